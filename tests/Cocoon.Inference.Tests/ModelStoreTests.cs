using System.Text;
using Cocoon.Inference.Models;

namespace Cocoon.Inference.Tests;

public sealed class ModelStoreTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("cocoon-store-tests-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Load_returns_the_verified_bytes_of_a_model_whose_files_match()
    {
        var folder = WriteModel("tiny", out var onnx, out _);

        var model = new ModelStore(_root).Load("tiny");

        Assert.Equal("tiny", model.Manifest.Name);
        Assert.Equal(onnx, model.GetFile("model.onnx"));
        Assert.Equal(ModelStore.Sha256Hex(onnx), model.OnnxSha256);
        Assert.Equal(folder, model.Directory);
    }

    [Fact]
    public void Load_refuses_a_file_whose_bytes_do_not_match_the_manifest()
    {
        var folder = WriteModel("tiny", out var onnx, out _);
        onnx[10] ^= 0x01; // same length, one bit different
        File.WriteAllBytes(Path.Combine(folder, "model.onnx"), onnx);

        var error = Assert.Throws<InferenceException>(() => new ModelStore(_root).Load("tiny"));

        Assert.Equal(InferenceErrorCodes.ModelIntegrity, error.Code);
        Assert.Contains("SHA-256 of 'model.onnx'", error.Message, StringComparison.Ordinal);
        Assert.Contains("refused", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_refuses_a_file_of_the_wrong_length_without_hashing_it()
    {
        var folder = WriteModel("tiny", out _, out _);
        File.AppendAllText(Path.Combine(folder, "vocab.txt"), "extra\n");

        var error = Assert.Throws<InferenceException>(() => ModelStore.LoadFolder(folder));

        Assert.Equal(InferenceErrorCodes.ModelIntegrity, error.Code);
        Assert.Contains("'vocab.txt' is", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_refuses_a_missing_file()
    {
        var folder = WriteModel("tiny", out _, out _);
        File.Delete(Path.Combine(folder, "vocab.txt"));

        var error = Assert.Throws<InferenceException>(() => ModelStore.LoadFolder(folder));

        Assert.Equal(InferenceErrorCodes.ModelIntegrity, error.Code);
        Assert.Contains("missing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_refuses_a_model_whose_onnx_hash_is_not_the_one_the_deployment_expects()
    {
        WriteModel("tiny", out _, out _);

        var error = Assert.Throws<InferenceException>(() => new ModelStore(_root).Load("tiny", new string('0', 64)));

        Assert.Equal(InferenceErrorCodes.ModelIntegrity, error.Code);
        Assert.Contains("deployment expects", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../outside.bin")]
    [InlineData("/etc/passwd")]
    [InlineData("sub/../../x")]
    public void Load_refuses_a_manifest_path_that_leaves_the_model_folder(string path)
    {
        var folder = WriteModel("tiny", out _, out _, extraPath: path);

        var error = Assert.Throws<InferenceException>(() => ModelStore.LoadFolder(folder));

        Assert.Equal(InferenceErrorCodes.InvalidManifest, error.Code);
    }

    [Fact]
    public void Load_refuses_a_manifest_with_unknown_fields()
    {
        var folder = WriteModel("tiny", out _, out _);
        var path = Path.Combine(folder, ModelManifest.FileName);
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"kind\"", "\"surprise\": 1, \"kind\"", StringComparison.Ordinal));

        var error = Assert.Throws<InferenceException>(() => ModelStore.LoadFolder(folder));

        Assert.Equal(InferenceErrorCodes.InvalidManifest, error.Code);
    }

    [Fact]
    public void Load_refuses_a_folder_whose_manifest_names_another_model()
    {
        WriteModel("tiny", out _, out _);
        Directory.Move(Path.Combine(_root, "tiny"), Path.Combine(_root, "other"));

        var error = Assert.Throws<InferenceException>(() => new ModelStore(_root).Load("other"));

        Assert.Equal(InferenceErrorCodes.InvalidManifest, error.Code);
    }

    [Fact]
    public void Manifest_json_round_trips_with_snake_case_names()
    {
        WriteModel("tiny", out _, out _);
        var json = File.ReadAllBytes(Path.Combine(_root, "tiny", ModelManifest.FileName));

        var manifest = ModelManifest.Parse(json);

        Assert.Contains("\"max_sequence_length\": 16", Encoding.UTF8.GetString(json), StringComparison.Ordinal);
        Assert.Equal(json, manifest.ToJson());
    }

    [Fact]
    public void The_built_in_MiniLM_is_refused_once_a_byte_of_it_changes()
    {
        // The real model, materialized from the package's resources into its own folder, then one vocabulary byte flipped.
        var folder = Path.Combine(_root, BuiltInModels.MiniLmName);
        var manifest = BuiltInModels.MaterializeMiniLm(folder);
        Assert.Equal(BuiltInModels.MiniLmOnnxSha256, manifest.Files.Single(f => f.Path == "model.onnx").Sha256);
        Assert.Equal(BuiltInModels.MiniLmVocabSha256, manifest.Files.Single(f => f.Path == "vocab.txt").Sha256);
        var vocabulary = File.ReadAllBytes(Path.Combine(folder, "vocab.txt"));
        vocabulary[^2] ^= 0x20;
        File.WriteAllBytes(Path.Combine(folder, "vocab.txt"), vocabulary);

        var error = Assert.Throws<InferenceException>(() => new ModelStore(_root).Load(BuiltInModels.MiniLmName));

        Assert.Equal(InferenceErrorCodes.ModelIntegrity, error.Code);
        Assert.Contains("vocab.txt", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_built_in_MiniLM_resources_are_found_by_reflection_with_the_pinned_hashes()
    {
        var (onnx, vocabulary) = BuiltInModels.ReadMiniLmResources();

        Assert.Equal(BuiltInModels.MiniLmOnnxSha256, ModelStore.Sha256Hex(onnx));
        Assert.Equal(BuiltInModels.MiniLmVocabSha256, ModelStore.Sha256Hex(vocabulary));
        Assert.Equal(30522, Encoding.UTF8.GetString(vocabulary).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    private string WriteModel(string name, out byte[] onnx, out byte[] vocabulary, string? extraPath = null)
    {
        var folder = Path.Combine(_root, name);
        Directory.CreateDirectory(folder);
        onnx = Enumerable.Range(0, 64).Select(i => (byte)i).ToArray();
        vocabulary = Encoding.UTF8.GetBytes("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
        File.WriteAllBytes(Path.Combine(folder, "model.onnx"), onnx);
        File.WriteAllBytes(Path.Combine(folder, "vocab.txt"), vocabulary);
        var files = new List<ModelFileEntry>
        {
            new("model.onnx", ModelStore.Sha256Hex(onnx), onnx.Length),
            new("vocab.txt", ModelStore.Sha256Hex(vocabulary), vocabulary.Length),
        };
        if (extraPath is not null)
        {
            files.Add(new ModelFileEntry(extraPath, new string('a', 64), 1));
        }

        var manifest = new ModelManifest
        {
            Name = name,
            Kind = ModelKinds.Embedding,
            Files = files,
            OnnxFile = "model.onnx",
            VocabularyFile = "vocab.txt",
            MaxSequenceLength = 16,
            Dimensions = 4,
        };
        File.WriteAllBytes(Path.Combine(folder, ModelManifest.FileName), manifest.ToJson());
        return folder;
    }
}
