using System;
using System.CommandLine;
using System.Linq;
using System.Text.Json;
using DpHubert.Hub;

namespace DpHubert.FeatureExtraction;

/// <summary><c>dphubert models</c>: the short names <c>--model</c> takes, where each is and what it is.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var command = new Command("models", "List the well-known encoders --model takes by short name: their Hub location, units preset and what each is.") { json };
        command.SetAction(parse =>
        {
            var rows = KnownModels.All;
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(rows.Select(m => new
                {
                    name = m.Name,
                    checkpoint = m.Reference.ToString(),
                    units = m.Units?.Name,
                    description = m.Description,
                }), new JsonSerializerOptions { WriteIndented = true }));
                return Cli.Ok;
            }
            int name = rows.Max(m => m.Name.Length), where = rows.Max(m => m.Reference.ToString().Length);
            int units = Math.Max("units".Length, rows.Max(m => m.Units?.Name.Length ?? 1));
            Console.WriteLine($"{"name".PadRight(name)}  {"checkpoint".PadRight(where)}  {"units".PadRight(units)}  what");
            foreach (var m in rows)
                Console.WriteLine($"{m.Name.PadRight(name)}  {m.Reference.ToString().PadRight(where)}  {(m.Units?.Name ?? "-").PadRight(units)}  {m.Description}");
            return Cli.Ok;
        });
        return command;
    }
}
