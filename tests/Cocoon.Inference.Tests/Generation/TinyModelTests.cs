using Cocoon.Inference.Embeddings;
using Cocoon.Inference.Generation;
using Cocoon.Inference.Models;

namespace Cocoon.Inference.Tests.Generation;

public sealed class TinyModelTests(TinyLmFixture fixture, MiniLmFixture miniLm)
{
    [Fact]
    public void The_builder_is_deterministic_and_the_seed_changes_the_weights()
    {
        using var temp = new TempFolder();
        var again = TinyModelBuilder.Write(Path.Combine(temp.Path, "a"));
        var reseeded = TinyModelBuilder.Write(Path.Combine(temp.Path, "b"), new TinyModelSpec { Seed = 7 });

        Assert.Equal(fixture.Manifest.Files, again.Files);
        Assert.NotEqual(fixture.Manifest.Files[0].Sha256, reseeded.Files[0].Sha256);
        Assert.Equal(fixture.Manifest.Files[1], reseeded.Files[1]);
    }

    [Fact]
    public void The_manifest_describes_the_graph()
    {
        var manifest = fixture.Manifest;
        Assert.Equal(ModelKinds.TextGeneration, manifest.Kind);
        Assert.Equal(TokenizerKinds.ByteLevelBpe, manifest.Tokenizer);
        Assert.Equal((2, 4, 16, 256), (manifest.NumLayers, manifest.NumKvHeads, manifest.HeadDim, manifest.MaxSequenceLength));
        Assert.Equal(fixture.Engine.Tokenizer.VocabularySize, manifest.Dimensions);
        Assert.InRange(manifest.Dimensions, 300, 512);
        Assert.Equal(fixture.Model.OnnxSha256, fixture.Engine.ModelSha256);
        Assert.Equal(BuiltInModels.TinyLmName, fixture.Engine.ModelName);
        Assert.Equal("CPU", fixture.Engine.ExecutionProvider.Name);
    }

    [Fact]
    public void Generation_fields_are_left_out_of_an_embedding_manifest_and_round_trip_in_a_generation_one()
    {
        var embedding = File.ReadAllText(Path.Combine(miniLm.ModelDirectory, ModelManifest.FileName));
        Assert.DoesNotContain("\"tokenizer\"", embedding, StringComparison.Ordinal);
        Assert.DoesNotContain("\"num_layers\"", embedding, StringComparison.Ordinal);

        var parsed = ModelManifest.Parse(File.ReadAllBytes(Path.Combine(fixture.ModelDirectory, ModelManifest.FileName)));
        Assert.Equal(fixture.Manifest.ChatTemplate!.Message, parsed.ChatTemplate!.Message);
        Assert.Equal(fixture.Manifest.ChatTemplate.GenerationPrompt, parsed.ChatTemplate.GenerationPrompt);
        Assert.Equal(["system", "user", "assistant"], parsed.ChatTemplate.Roles);
        Assert.Equal(fixture.Manifest.EosTokens, parsed.EosTokens);
        Assert.Equal(fixture.Manifest.SpecialTokens, parsed.SpecialTokens);
        Assert.Equal((2, 4, 16), (parsed.NumLayers, parsed.NumKvHeads, parsed.HeadDim));
    }

    [Theory]
    [InlineData("vocab.json", "{\"a\": ")]
    [InlineData("merges.txt", "#version: 0.2\nnot-a-token another-unknown\n")]
    [InlineData("tokenizer.model", "\u0001\u0002garbage")]
    public void Tokenizer_files_that_do_not_make_a_tokenizer_are_refused_as_invalid_manifest(string file, string content)
    {
        using var temp = new TempFolder();
        var manifest = TinyModelBuilder.Write(temp.Path, new TinyModelSpec { Tokenizer = file == "tokenizer.model" ? TokenizerKinds.SentencePiece : TokenizerKinds.ByteLevelBpe });
        var bytes = System.Text.Encoding.UTF8.GetBytes(content);
        File.WriteAllBytes(Path.Combine(temp.Path, file), bytes);
        var files = manifest.Files.Select(f => f.Path == file ? new ModelFileEntry(file, ModelStore.Sha256Hex(bytes), bytes.Length) : f).ToList();
        File.WriteAllBytes(Path.Combine(temp.Path, ModelManifest.FileName), (manifest with { Files = files }).ToJson());

        var error = Assert.Throws<InferenceException>(() => TextGenerationEngine.Create(ModelStore.LoadFolder(temp.Path), TinyLmFixture.Options(1)));
        Assert.Equal(InferenceErrorCodes.InvalidManifest, error.Code);
    }

    [Fact]
    public void A_flipped_byte_in_the_onnx_file_is_refused()
    {
        using var temp = new TempFolder();
        TinyModelBuilder.Write(temp.Path);
        var onnx = Path.Combine(temp.Path, TinyModelBuilder.OnnxFile);
        var bytes = File.ReadAllBytes(onnx);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(onnx, bytes);

        var error = Assert.Throws<InferenceException>(() => ModelStore.LoadFolder(temp.Path));
        Assert.Equal(InferenceErrorCodes.ModelIntegrity, error.Code);
    }

    [Fact]
    public void A_model_of_the_other_kind_is_refused_by_each_engine()
    {
        var notGeneration = Assert.Throws<InferenceException>(() => TextGenerationEngine.Create(miniLm.Model));
        Assert.Equal(InferenceErrorCodes.InvalidManifest, notGeneration.Code);
        var notEmbedding = Assert.Throws<InferenceException>(() => EmbeddingEngine.Create(fixture.Model));
        Assert.Equal(InferenceErrorCodes.InvalidManifest, notEmbedding.Code);
    }

    [Fact]
    public void A_text_generation_manifest_without_a_tokenizer_is_refused()
    {
        using var temp = new TempFolder();
        var manifest = TinyModelBuilder.Write(temp.Path);
        File.WriteAllBytes(Path.Combine(temp.Path, ModelManifest.FileName), (manifest with { Tokenizer = null }).ToJson());

        var error = Assert.Throws<InferenceException>(() => ModelStore.LoadFolder(temp.Path));
        Assert.Equal(InferenceErrorCodes.InvalidManifest, error.Code);
    }

    [Fact]
    public void A_manifest_that_does_not_fit_the_graph_is_refused_at_start()
    {
        using var temp = new TempFolder();
        var manifest = TinyModelBuilder.Write(temp.Path);
        File.WriteAllBytes(Path.Combine(temp.Path, ModelManifest.FileName), (manifest with { NumLayers = 3 }).ToJson());

        var error = Assert.Throws<InferenceException>(() => TextGenerationEngine.Create(ModelStore.LoadFolder(temp.Path), TinyLmFixture.Options(1)));
        Assert.Equal(InferenceErrorCodes.InvalidManifest, error.Code);
        Assert.Contains("past_key_values.2.key", error.Message, StringComparison.Ordinal);
    }

    private sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("cocoon-tiny-lm-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
