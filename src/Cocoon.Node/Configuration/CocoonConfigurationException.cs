namespace Cocoon.Node.Configuration;

/// <summary>
/// A node cannot start because of its configuration or its surroundings (database, ports). The message names the
/// setting at fault and says what to do; hosts print it as one line instead of a stack trace.
/// </summary>
public sealed class CocoonConfigurationException : Exception
{
    /// <summary>Creates the exception for <paramref name="setting"/>.</summary>
    public CocoonConfigurationException(string setting, string message, Exception? inner = null)
        : base($"{setting}: {message}", inner)
    {
        Setting = setting;
    }

    /// <summary>The configuration key at fault, e.g. <c>Cocoon:Storage:ConnectionString</c>.</summary>
    public string Setting { get; }
}
