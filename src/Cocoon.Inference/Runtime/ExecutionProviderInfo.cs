namespace Cocoon.Inference.Runtime;

/// <summary>Which ONNX Runtime execution provider a session runs on, and why it was chosen; the host reports it at start.</summary>
/// <param name="Name">"CUDA" or "CPU".</param>
/// <param name="Reason">Why: the GPU that was taken, or why CUDA was not usable.</param>
public sealed record ExecutionProviderInfo(string Name, string Reason)
{
    /// <summary>The name used for the CUDA execution provider.</summary>
    public const string Cuda = "CUDA";

    /// <summary>The name used for the CPU execution provider.</summary>
    public const string Cpu = "CPU";

    /// <summary>True when the session runs on a GPU.</summary>
    public bool IsGpu => Name == Cuda;

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({Reason})";
}

/// <summary>What the host asks for; <see cref="Auto"/> takes CUDA when usable and falls back to CPU.</summary>
public enum ExecutionProviderPreference
{
    /// <summary>CUDA when a usable GPU is present, CPU otherwise.</summary>
    Auto,

    /// <summary>CPU only, even when a GPU is present.</summary>
    Cpu,

    /// <summary>CUDA or fail: a worker that was deployed as a GPU worker must not quietly serve from CPU.</summary>
    Cuda,
}
