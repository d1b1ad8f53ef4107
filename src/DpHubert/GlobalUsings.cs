global using Parameter = TorchSharp.Modules.Parameter;
global using Tensor = TorchSharp.torch.Tensor;
