namespace Cocoon.Node.Hosting;

/// <summary>Start-up progress lines a host shows its operator (the devnet prints them; a service logs them).</summary>
public sealed class NodeProgress(Action<string>? sink)
{
    /// <summary>Reports one line.</summary>
    public void Report(string line) => sink?.Invoke(line);
}
