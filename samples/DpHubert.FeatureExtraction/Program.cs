System.Console.WriteLine(TorchSharp.torch.ones(1).add(1).item<float>());
