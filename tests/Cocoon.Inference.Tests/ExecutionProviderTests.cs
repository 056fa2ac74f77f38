using Cocoon.Inference.Embeddings;
using Cocoon.Inference.Runtime;

namespace Cocoon.Inference.Tests;

/// <summary>
/// The provider choice on whatever machine runs the tests: on a CPU-only machine (CI) Auto must fall back to CPU and
/// say why; on a machine with a usable GPU it must take CUDA. Each branch asserts the behaviour it expects.
/// </summary>
public class ExecutionProviderTests(MiniLmFixture miniLm)
{
    [Fact]
    public async Task Auto_takes_cuda_when_usable_and_otherwise_reports_cpu_with_the_reason()
    {
        var unusable = OnnxSessionFactory.CudaUnusableReason(deviceId: 0);

        await using var engine = EmbeddingEngine.Create(miniLm.Model, new EmbeddingEngineOptions
        {
            Session = new OnnxSessionSettings { Preference = ExecutionProviderPreference.Auto },
        });

        if (engine.ExecutionProvider.IsGpu)
        {
            Assert.Null(unusable);
            Assert.Equal(ExecutionProviderInfo.Cuda, engine.ExecutionProvider.Name);
        }
        else
        {
            // Either a check before starting the provider failed (and is the reason), or the provider itself did not start.
            Assert.Equal(ExecutionProviderInfo.Cpu, engine.ExecutionProvider.Name);
            if (unusable is null)
            {
                Assert.StartsWith("CUDA not usable: the CUDA execution provider did not start: ", engine.ExecutionProvider.Reason, StringComparison.Ordinal);
            }
            else
            {
                Assert.Equal("CUDA not usable: " + unusable, engine.ExecutionProvider.Reason);
            }
        }

        // Whichever provider it took, it computes the same embedding.
        var vector = (await engine.EmbedAsync(["This is an example sentence"], cancellationToken: TestContext.Current.CancellationToken)).Vectors[0];
        Assert.True(Vectors.MaxAbsDifference(miniLm.Reference("This is an example sentence"), vector) < (engine.ExecutionProvider.IsGpu ? 1e-3 : 1e-5));
    }

    [Fact]
    public void Requiring_cuda_gives_a_cuda_session_or_an_error_never_a_cpu_session()
    {
        var unusable = OnnxSessionFactory.CudaUnusableReason(deviceId: 0);
        var settings = new OnnxSessionSettings { Preference = ExecutionProviderPreference.Cuda };

        try
        {
            using var session = OnnxSessionFactory.Create(miniLm.Model.GetFile("model.onnx"), settings, out var provider);
            Assert.Equal(ExecutionProviderInfo.Cuda, provider.Name);
            Assert.Null(unusable);
        }
        catch (InferenceException error)
        {
            Assert.StartsWith("CUDA was required but is not usable: ", error.Message, StringComparison.Ordinal);
            Assert.Contains(unusable ?? "the CUDA execution provider did not start", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_device_the_machine_does_not_have_is_never_usable()
    {
        Assert.NotNull(OnnxSessionFactory.CudaUnusableReason(deviceId: 4096));
    }

    [Fact]
    public void Cpu_by_configuration_is_reported_as_such()
    {
        Assert.Equal(new ExecutionProviderInfo("CPU", "CPU requested by configuration"), miniLm.Engine.ExecutionProvider);
    }
}
