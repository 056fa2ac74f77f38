using Cocoon.Inference.Generation;
using Cocoon.Inference.Models;

namespace Cocoon.Inference.Tests.Generation;

public sealed class HuggingFaceImportTests(TinyLmFixture fixture)
{
    [Theory]
    [InlineData(TokenizerKinds.ByteLevelBpe)]
    [InlineData(TokenizerKinds.SentencePiece)]
    public void The_manifest_made_from_the_hugging_face_files_equals_the_builders(string tokenizer)
    {
        var folder = Directory.CreateTempSubdirectory("cocoon-hf-import-").FullName;
        try
        {
            var built = TinyModelBuilder.Write(folder, new TinyModelSpec { Tokenizer = tokenizer });
            var imported = HuggingFaceImport.CreateManifest(folder, built.Name);

            Assert.Equal(built.Files, imported.Files);
            Assert.Equal((built.Tokenizer, built.VocabularyFile, built.MergesFile), (imported.Tokenizer, imported.VocabularyFile, imported.MergesFile));
            Assert.Equal(built.SpecialTokens!.OrderBy(p => p.Value), imported.SpecialTokens!.OrderBy(p => p.Value));
            Assert.Equal(built.EosTokens!.Order(), imported.EosTokens!.Order());
            Assert.Null(imported.BosToken);
            Assert.Equal((built.ChatTemplate!.Message, built.ChatTemplate.GenerationPrompt), (imported.ChatTemplate!.Message, imported.ChatTemplate.GenerationPrompt));
            Assert.Equal(
                (built.NumLayers, built.NumKvHeads, built.HeadDim, built.MaxSequenceLength, built.Dimensions),
                (imported.NumLayers, imported.NumKvHeads, imported.HeadDim, imported.MaxSequenceLength, imported.Dimensions));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task An_imported_model_loads_and_generates_as_the_built_in_one()
    {
        var ct = TestContext.Current.CancellationToken;
        var folder = Directory.CreateTempSubdirectory("cocoon-hf-import-").FullName;
        try
        {
            TinyModelBuilder.Write(folder);
            var manifest = HuggingFaceImport.CreateManifest(folder, "imported-tiny", contextLength: 128);
            File.WriteAllBytes(Path.Combine(folder, ModelManifest.FileName), manifest.ToJson());

            await using var engine = TextGenerationEngine.Create(ModelStore.LoadFolder(folder, fixture.Model.OnnxSha256), TinyLmFixture.Options(1));
            Assert.Equal(128, engine.ContextLength);
            var options = new GenerationOptions { MaxTokens = 16, Temperature = 0 };
            var mine = await Completion.RunAsync(engine, "The cocoon", options, ct);
            var builtIn = await Completion.RunAsync(fixture.Engine, "The cocoon", options, ct);
            Assert.Equal(builtIn.Tokens, mine.Tokens);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_folder_without_config_json_is_refused()
    {
        var folder = Directory.CreateTempSubdirectory("cocoon-hf-import-").FullName;
        try
        {
            TinyModelBuilder.Write(folder);
            File.Delete(Path.Combine(folder, "config.json"));
            var error = Assert.Throws<InferenceException>(() => HuggingFaceImport.CreateManifest(folder, "x"));
            Assert.Equal(InferenceErrorCodes.InvalidManifest, error.Code);
            Assert.Contains("config.json", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
