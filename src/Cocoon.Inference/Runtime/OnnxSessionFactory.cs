using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Cocoon.Inference.Runtime;

/// <summary>How the engine builds its ONNX Runtime session.</summary>
public sealed record OnnxSessionSettings
{
    /// <summary>CUDA when usable (default), CPU only, or CUDA or fail.</summary>
    public ExecutionProviderPreference Preference { get; init; } = ExecutionProviderPreference.Auto;

    /// <summary>The CUDA device ordinal to run on.</summary>
    public int CudaDeviceId { get; init; }

    /// <summary>Threads ONNX Runtime uses inside one run on CPU; 0 lets it choose (one per core).</summary>
    public int IntraOpThreads { get; init; }
}

/// <summary>
/// Creates ONNX Runtime sessions on the CUDA execution provider when a GPU is usable and on the CPU one otherwise,
/// and says which it took and why. "Usable" is checked in order: the native library was built with the CUDA provider,
/// the NVIDIA driver (libcuda) loads and reports the device, and the provider starts (with the CUDA 13 and cuDNN 9
/// libraries it needs; those that cannot be loaded are named). The first check that fails is the reason reported.
/// </summary>
public static class OnnxSessionFactory
{
    private const string CudaProviderName = "CUDAExecutionProvider";

    /// <summary>Creates a session for <paramref name="model"/> (the ONNX file's bytes) and reports the provider chosen.</summary>
    /// <exception cref="InferenceException">CUDA was required and is not usable, or the model does not load.</exception>
    public static InferenceSession Create(byte[] model, OnnxSessionSettings settings, out ExecutionProviderInfo provider)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(settings);

        string reason;
        if (settings.Preference == ExecutionProviderPreference.Cpu)
        {
            reason = "CPU requested by configuration";
        }
        else
        {
            var unusable = CudaUnusableReason(settings.CudaDeviceId);
            if (unusable is null)
            {
                using var options = CreateOptions(settings);
                try
                {
                    options.AppendExecutionProvider_CUDA(settings.CudaDeviceId);
                    var session = new InferenceSession(model, options);
                    provider = new ExecutionProviderInfo(ExecutionProviderInfo.Cuda, $"CUDA device {settings.CudaDeviceId}");
                    return session;
                }
                catch (OnnxRuntimeException ex)
                {
                    unusable = "the CUDA execution provider did not start: " + ex.Message + MissingCudaLibraries();
                }
            }

            if (settings.Preference == ExecutionProviderPreference.Cuda)
            {
                throw new InferenceException(InferenceErrorCodes.InternalError, "CUDA was required but is not usable: " + unusable);
            }

            reason = "CUDA not usable: " + unusable;
        }

        using (var options = CreateOptions(settings))
        {
            try
            {
                var session = new InferenceSession(model, options);
                provider = new ExecutionProviderInfo(ExecutionProviderInfo.Cpu, reason);
                return session;
            }
            catch (OnnxRuntimeException ex)
            {
                throw new InferenceException(InferenceErrorCodes.InvalidManifest, "ONNX Runtime could not load the model: " + ex.Message, innerException: ex);
            }
        }
    }

    /// <summary>Why CUDA cannot be used on this machine, or null when every check before starting the provider passes.</summary>
    public static string? CudaUnusableReason(int deviceId)
    {
        if (!Array.Exists(OrtEnv.Instance().GetAvailableProviders(), p => p == CudaProviderName))
        {
            return "this ONNX Runtime build has no CUDA execution provider";
        }

        var driver = OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1";
        if (!NativeLibrary.TryLoad(driver, out var handle))
        {
            return $"no NVIDIA driver ({driver} not found)";
        }

        // The driver stays loaded: unloading libcuda after cuInit is not supported.
        return DeviceCountProblem(handle, deviceId);
    }

    /// <summary>
    /// After the CUDA provider failed to start: which of the libraries it links cannot be loaded. The provider library
    /// itself is not probed (it only loads after ONNX Runtime's providers_shared library, with RTLD_GLOBAL).
    /// </summary>
    private static string MissingCudaLibraries()
    {
        // NEEDED entries of libonnxruntime_providers_cuda.so in Microsoft.ML.OnnxRuntime.Gpu.Linux 1.31.0 (CUDA 13),
        // plus cuDNN 9, which it opens at run time.
        if (!OperatingSystem.IsLinux())
        {
            return "";
        }

        string[] linked = ["libcublasLt.so.13", "libcublas.so.13", "libcudart.so.13", "libcurand.so.10", "libcudnn.so.9"];
        var missing = Array.FindAll(linked, name => !NativeLibrary.TryLoad(name, out _));
        return missing.Length == 0 ? "" : " (cannot load: " + string.Join(", ", missing) + ")";
    }

    private static unsafe string? DeviceCountProblem(IntPtr driver, int deviceId)
    {
        if (!NativeLibrary.TryGetExport(driver, "cuInit", out var initAddress) ||
            !NativeLibrary.TryGetExport(driver, "cuDeviceGetCount", out var countAddress))
        {
            return "the NVIDIA driver lacks cuInit/cuDeviceGetCount";
        }

        var cuInit = (delegate* unmanaged<uint, int>)initAddress;
        var cuDeviceGetCount = (delegate* unmanaged<int*, int>)countAddress;
        var result = cuInit(0);
        if (result != 0)
        {
            return $"cuInit failed (CUresult {result})";
        }

        var count = 0;
        result = cuDeviceGetCount(&count);
        if (result != 0)
        {
            return $"cuDeviceGetCount failed (CUresult {result})";
        }

        return deviceId < count ? null : $"CUDA device {deviceId} requested but {count} device(s) present";
    }

    private static SessionOptions CreateOptions(OnnxSessionSettings settings)
    {
        var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            // Only warnings and errors: ORT's verbose logs can print tensor shapes, never inputs, but keep it quiet.
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING,
        };
        if (settings.IntraOpThreads > 0)
        {
            options.IntraOpNumThreads = settings.IntraOpThreads;
        }

        return options;
    }
}
