namespace DpHubert.Checkpoints.ConfigMaps;

/// <summary>Looks a key up in a foreign config (a JSON object or a pickled dict).</summary>
internal delegate bool ConfigLookup(string key, out object? value);
