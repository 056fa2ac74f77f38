using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using Cocoon.Inference.Models;
using Cocoon.Inference.Runtime;
using Microsoft.ML.OnnxRuntime;

namespace Cocoon.Inference.Generation;

/// <summary>How a <see cref="TextGenerationEngine"/> runs.</summary>
public sealed record TextGenerationEngineOptions
{
    /// <summary>Execution provider and threads.</summary>
    public OnnxSessionSettings Session { get; init; } = new();

    /// <summary>The most sequences decoded at once (the batch size of a decode step).</summary>
    public int Capacity { get; init; } = 8;

    /// <summary>The most sequences waiting for a slot; one more is refused with <see cref="InferenceErrorCodes.Overloaded"/>.</summary>
    public int QueueLimit { get; init; } = 64;
}

/// <summary>
/// Text generation for a decoder-only ONNX model in the standard export layout, with a KV cache and continuous batching.
/// One scheduler thread owns the session: between decode steps it drops finished and cancelled sequences, admits waiting
/// ones up to <see cref="Capacity"/> (each is prefilled alone: its whole prompt in one pass), and then runs one decode step
/// for every running sequence together, one ONNX Runtime run with batch = running sequences. Sequences of different
/// lengths share a step by left-padding: each row's cache sits at the end of the batch cache, the attention mask hides the
/// padding and <c>position_ids</c> carry each row's own position, so every row computes exactly what it would alone. While
/// nobody joins or leaves, a step's output caches are the next step's input caches, with no copy.
/// </summary>
public sealed class TextGenerationEngine : ITextGenerationEngine
{
    private readonly DecoderModel _model;
    private readonly GenerationTokenizer _tokenizer;
    private readonly ChatTemplate? _chatTemplate;
    private readonly int _queueLimit;
    private readonly ConcurrentQueue<Sequence> _waiting = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Thread _scheduler;
    private readonly List<Sequence> _active = [];
    private int _waitingCount;
    private int _running;
    private long _decodeSteps;
    private int _largestStep;
    private KvBatch? _batch;
    private readonly GenerationMetrics _metrics;
    private readonly TokenSampler.Scratch _scratch = new();

    private TextGenerationEngine(VerifiedModel model, TextGenerationEngineOptions options)
    {
        var manifest = model.Manifest;
        if (manifest.Kind != ModelKinds.TextGeneration)
        {
            throw new InferenceException(InferenceErrorCodes.InvalidManifest, $"Model '{manifest.Name}' is a '{manifest.Kind}' model, not a text-generation model.");
        }

        if (options.Capacity < 1 || options.QueueLimit < 0)
        {
            throw new ArgumentException("Capacity must be at least 1 and QueueLimit not negative.", nameof(options));
        }

        _tokenizer = GenerationTokenizer.Create(model);
        if (_tokenizer.VocabularySize > manifest.Dimensions)
        {
            throw new InferenceException(InferenceErrorCodes.InvalidManifest,
                $"Model '{manifest.Name}': the tokenizer has {_tokenizer.VocabularySize} ids, the logits only {manifest.Dimensions}.");
        }

        var session = OnnxSessionFactory.Create(model.GetFile(manifest.OnnxFile), options.Session, out var provider);
        try
        {
            _model = new DecoderModel(session, manifest);
        }
        catch
        {
            session.Dispose();
            throw;
        }

        _chatTemplate = manifest.ChatTemplate;
        _queueLimit = options.QueueLimit;
        Capacity = options.Capacity;
        ExecutionProvider = provider;
        ModelName = manifest.Name;
        ModelSha256 = model.OnnxSha256;
        _metrics = new GenerationMetrics(ModelName, () => Waiting, () => Running, Capacity);
        _scheduler = new Thread(Schedule) { IsBackground = true, Name = "cocoon-generation-" + manifest.Name };
        _scheduler.Start();
    }

    /// <summary>Starts an engine for a verified text-generation model.</summary>
    /// <exception cref="InferenceException">The model is not a text-generation model, its files do not fit its manifest, or the session cannot be created.</exception>
    public static TextGenerationEngine Create(VerifiedModel model, TextGenerationEngineOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new TextGenerationEngine(model, options ?? new TextGenerationEngineOptions());
    }

    /// <inheritdoc />
    public string ModelName { get; }

    /// <inheritdoc />
    public string ModelSha256 { get; }

    /// <inheritdoc />
    public int ContextLength => _model.ContextLength;

    /// <inheritdoc />
    public int Capacity { get; }

    /// <inheritdoc />
    public int Running => Volatile.Read(ref _running);

    /// <summary>Sequences waiting for a slot.</summary>
    public int Waiting => Volatile.Read(ref _waitingCount);

    /// <inheritdoc />
    public ExecutionProviderInfo ExecutionProvider { get; }

    /// <summary>The model's tokenizer.</summary>
    public GenerationTokenizer Tokenizer => _tokenizer;

    internal DecoderModel Model => _model;

    internal System.Diagnostics.Metrics.Meter Meter => _metrics.Meter;

    /// <summary>
    /// Called on the scheduler thread before each step while sequences are running (before finished and cancelled ones
    /// are dropped and waiting ones admitted); tests block it to hold the scheduler between steps.
    /// </summary>
    internal Action? StepGate { get; set; }

    /// <summary>Decode steps run so far.</summary>
    internal long DecodeSteps => Volatile.Read(ref _decodeSteps);

    /// <summary>The most sequences one decode step has held.</summary>
    internal int LargestStep => Volatile.Read(ref _largestStep);

    /// <inheritdoc />
    public int CountTokens(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return _tokenizer.Encode(prompt).Length;
    }

    /// <inheritdoc />
    public string ApplyChatTemplate(IReadOnlyList<ChatTurn> messages)
    {
        if (_chatTemplate is null)
        {
            throw new InferenceException(InferenceErrorCodes.InvalidRequest, $"Model '{ModelName}' has no chat template; use completions.", "messages");
        }

        if (messages is null || messages.Count == 0)
        {
            throw new InferenceException(InferenceErrorCodes.InvalidRequest, "At least one message is needed.", "messages");
        }

        var prompt = new StringBuilder(_chatTemplate.Prefix);
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            if (message is null || message.Content is null)
            {
                throw new InferenceException(InferenceErrorCodes.InvalidRequest, $"Message {i} has no content.", "messages", i);
            }

            if (message.Role is null || !_chatTemplate.Roles.Contains(message.Role))
            {
                throw new InferenceException(InferenceErrorCodes.InvalidRequest,
                    $"Message {i} has role '{message.Role}'; this model takes {string.Join(", ", _chatTemplate.Roles)}.", "messages", i);
            }

            prompt.Append(_chatTemplate.Message.Replace("{role}", message.Role, StringComparison.Ordinal)
                .Replace("{content}", message.Content, StringComparison.Ordinal));
        }

        return prompt.Append(_chatTemplate.GenerationPrompt).ToString();
    }

    /// <inheritdoc />
    public IAsyncEnumerable<GenerationChunk> GenerateAsync(string prompt, GenerationOptions options, CancellationToken cancellationToken = default) =>
        StreamAsync(Prepare(prompt, options), options, null, cancellationToken);

    /// <summary>
    /// <see cref="GenerateAsync(string, GenerationOptions, CancellationToken)"/> that also records the token ids chosen (EOS
    /// included), for tests and benchmarks that check decoding on the token level.
    /// </summary>
    internal IAsyncEnumerable<GenerationChunk> GenerateAsync(string prompt, GenerationOptions options, List<int> tokens, CancellationToken cancellationToken = default) =>
        StreamAsync(Prepare(prompt, options), options, tokens, cancellationToken);

    /// <summary>Stops the scheduler (waiting and running sequences fail with <see cref="InferenceErrorCodes.EngineStopped"/>) and frees the session.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.Run(_scheduler.Join).ConfigureAwait(false);
        var stopped = new InferenceException(InferenceErrorCodes.EngineStopped, "The generation engine stopped.");
        while (_waiting.TryDequeue(out var sequence))
        {
            sequence.Fail(stopped);
        }

        foreach (var sequence in _active)
        {
            sequence.Fail(stopped);
        }

        _active.Clear();
        _batch?.Dispose();
        _batch = null;
        _model.Dispose();
        _metrics.Dispose();
        _signal.Dispose();
        _stopping.Dispose();
    }

    /// <summary>Checks the request and tokenizes the prompt; throws before anything is queued.</summary>
    private int[] Prepare(string prompt, GenerationOptions options)
    {
        if (prompt is null)
        {
            throw new InferenceException(InferenceErrorCodes.InvalidRequest, "The prompt is missing.", "prompt");
        }

        Validate(options);
        var ids = _tokenizer.Encode(prompt);
        if (ids.Length == 0)
        {
            throw new InferenceException(InferenceErrorCodes.InvalidRequest, "The prompt has no tokens.", "prompt");
        }

        if ((long)ids.Length + options.MaxTokens > ContextLength)
        {
            throw new InferenceException(InferenceErrorCodes.ContextLengthExceeded,
                $"This model's maximum context length is {ContextLength} tokens. However, you requested {ids.Length + (long)options.MaxTokens} tokens " +
                $"({ids.Length} in the prompt, {options.MaxTokens} in the completion). Please reduce the length of the prompt or max_tokens.");
        }

        return ids;
    }

    internal static void Validate(GenerationOptions options)
    {
        static InferenceException Bad(string param, string why) => new(InferenceErrorCodes.InvalidRequest, why, param);

        if (options is null)
        {
            throw new InferenceException(InferenceErrorCodes.InvalidRequest, "The generation options are missing.");
        }

        if (options.MaxTokens < 1)
        {
            throw Bad("max_tokens", $"max_tokens must be at least 1, not {options.MaxTokens}.");
        }

        if (!float.IsFinite(options.Temperature) || options.Temperature is < 0f or > 2f)
        {
            throw Bad("temperature", "temperature must be between 0 and 2.");
        }

        if (!float.IsFinite(options.TopP) || options.TopP is <= 0f or > 1f)
        {
            throw Bad("top_p", "top_p must be greater than 0 and at most 1.");
        }

        if (options.TopK < 0)
        {
            throw Bad("top_k", "top_k must be 0 (no limit) or more.");
        }

        if (!float.IsFinite(options.FrequencyPenalty) || options.FrequencyPenalty is < -2f or > 2f)
        {
            throw Bad("frequency_penalty", "frequency_penalty must be between -2 and 2.");
        }

        if (!float.IsFinite(options.PresencePenalty) || options.PresencePenalty is < -2f or > 2f)
        {
            throw Bad("presence_penalty", "presence_penalty must be between -2 and 2.");
        }

        if (options.Stop is null || options.Stop.Count > 4 || options.Stop.Any(string.IsNullOrEmpty))
        {
            throw Bad("stop", "stop takes up to 4 non-empty sequences.");
        }
    }

    private async IAsyncEnumerable<GenerationChunk> StreamAsync(int[] ids, GenerationOptions options, List<int>? tokens, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var sequence = new Sequence(ids, options) { TokenLog = tokens };
        if (Interlocked.Increment(ref _waitingCount) > _queueLimit)
        {
            Interlocked.Decrement(ref _waitingCount);
            throw new InferenceException(InferenceErrorCodes.Overloaded, $"{_queueLimit} requests are already waiting for model '{ModelName}'.");
        }

        if (_stopping.IsCancellationRequested)
        {
            Interlocked.Decrement(ref _waitingCount);
            throw new InferenceException(InferenceErrorCodes.EngineStopped, "The generation engine stopped.");
        }

        _waiting.Enqueue(sequence);
        Wake();
        if (_stopping.IsCancellationRequested)
        {
            // The engine stopped while this one was being queued: it may have missed the drain in DisposeAsync.
            sequence.Fail(new InferenceException(InferenceErrorCodes.EngineStopped, "The generation engine stopped."));
        }

        try
        {
            await foreach (var chunk in sequence.Chunks.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return chunk;
            }
        }
        finally
        {
            // Cancelled, or the caller stopped reading: the scheduler drops the sequence before its next step.
            if (sequence.Cancel())
            {
                Wake();
            }
        }
    }

    private void Wake()
    {
        try
        {
            _signal.Release();
        }
        catch (ObjectDisposedException)
        {
            // The engine stopped; nothing to wake.
        }
    }

    private void Schedule()
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                if (_active.Count > 0)
                {
                    StepGate?.Invoke();
                }

                var changed = DropFinished();
                var joined = Admit(stopping);
                if (changed || joined.Count > 0)
                {
                    Relayout(joined);
                }

                if (_active.Count == 0)
                {
                    _signal.Wait(stopping);
                    continue;
                }

                DecodeStep();
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // A failed run fails the sequences in it; the engine carries on with the next ones.
                var failure = new InferenceException(InferenceErrorCodes.InternalError, "The model run failed: " + ex.Message, innerException: ex);
                foreach (var sequence in _active)
                {
                    sequence.Fail(failure);
                }

                _active.Clear();
                _batch?.Dispose();
                _batch = null;
                Volatile.Write(ref _running, 0);
            }
        }
    }

    private bool DropFinished()
    {
        var removed = _active.RemoveAll(s => s.IsDone);
        if (removed > 0)
        {
            Volatile.Write(ref _running, _active.Count);
        }

        return removed > 0;
    }

    /// <summary>Takes waiting sequences into free slots and prefills each; those that finish at once never join a step.</summary>
    private List<Sequence> Admit(CancellationToken stopping)
    {
        var joined = new List<Sequence>();
        while (_active.Count + joined.Count < Capacity && !stopping.IsCancellationRequested && _waiting.TryDequeue(out var sequence))
        {
            Interlocked.Decrement(ref _waitingCount);
            if (sequence.IsDone)
            {
                continue;
            }

            Volatile.Write(ref _running, _active.Count + joined.Count + 1);
            try
            {
                Prefill(sequence);
            }
            catch (Exception ex) when (ex is OnnxRuntimeException or InferenceException)
            {
                sequence.Fail(new InferenceException(InferenceErrorCodes.InternalError, "The model run failed: " + ex.Message, innerException: ex));
            }

            if (sequence.IsDone)
            {
                sequence.DisposeCache();
                Volatile.Write(ref _running, _active.Count + joined.Count);
            }
            else
            {
                joined.Add(sequence);
            }
        }

        return joined;
    }

    private void Prefill(Sequence sequence)
    {
        var n = sequence.PromptIds.Length;
        var ids = new long[n];
        var positions = new long[n];
        var mask = new long[n];
        for (var i = 0; i < n; i++)
        {
            ids[i] = sequence.PromptIds[i];
            positions[i] = i;
            mask[i] = 1;
        }

        var empty = _model.EmptyCaches(1);
        try
        {
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            var outputs = _model.Run(ids, positions, mask, 1, n, empty);
            _metrics.RecordPrefill(n, start);
            sequence.Cache = outputs;
            sequence.Length = n;
            var vocabulary = _model.VocabularySize;
            Accept(sequence, outputs[0].GetTensorDataAsSpan<float>().Slice((n - 1) * vocabulary, vocabulary));
        }
        finally
        {
            foreach (var value in empty)
            {
                value.Dispose();
            }
        }
    }

    /// <summary>
    /// Builds the batch cache for the sequences running now: survivors keep their order (rows copied out of the old batch
    /// cache) and newcomers follow (rows copied from their prefill). Each row is right-aligned: padding first.
    /// </summary>
    private void Relayout(List<Sequence> joined)
    {
        var rows = new List<(Sequence Sequence, int SourceRow, int SourceLength, IReadOnlyList<OrtValue> Source, int Offset)>();
        var old = _batch;
        for (var r = 0; r < _active.Count; r++)
        {
            rows.Add((_active[r], _active[r].Row, old!.MaxLength, old.Caches, 0));
        }

        foreach (var sequence in joined)
        {
            rows.Add((sequence, 0, sequence.Length, sequence.Cache!, 1));
        }

        if (rows.Count == 0)
        {
            old?.Dispose();
            _batch = null;
            return;
        }

        var maxLength = rows.Max(r => r.Sequence.Length);
        var heads = _model.Heads;
        var headDim = _model.HeadDim;
        var caches = new OrtValue[2 * _model.Layers];
        for (var c = 0; c < caches.Length; c++)
        {
            var target = new float[rows.Count * heads * maxLength * headDim];
            for (var b = 0; b < rows.Count; b++)
            {
                var (sequence, sourceRow, sourceLength, source, offset) = rows[b];
                var span = source[c + offset].GetTensorDataAsSpan<float>();
                var length = sequence.Length;
                for (var h = 0; h < heads; h++)
                {
                    var from = ((((sourceRow * heads) + h) * sourceLength) + (sourceLength - length)) * headDim;
                    var to = ((((b * heads) + h) * maxLength) + (maxLength - length)) * headDim;
                    span.Slice(from, length * headDim).CopyTo(target.AsSpan(to));
                }
            }

            caches[c] = OrtValue.CreateTensorValueFromMemory(target, [rows.Count, heads, maxLength, headDim]);
        }

        old?.Dispose();
        foreach (var sequence in joined)
        {
            sequence.DisposeCache();
        }

        _active.AddRange(joined);
        for (var b = 0; b < _active.Count; b++)
        {
            _active[b].Row = b;
        }

        _batch = new KvBatch(caches, new OwnedValues(caches), maxLength);
        Volatile.Write(ref _running, _active.Count);
    }

    private void DecodeStep()
    {
        var batch = _batch!;
        var rows = _active.Count;
        var total = batch.MaxLength + 1;
        var ids = new long[rows];
        var positions = new long[rows];
        var mask = new long[rows * total];
        for (var b = 0; b < rows; b++)
        {
            var sequence = _active[b];
            ids[b] = sequence.LastToken;
            positions[b] = sequence.Length;
            mask.AsSpan((b * total) + (batch.MaxLength - sequence.Length), sequence.Length + 1).Fill(1);
        }

        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        var outputs = _model.Run(ids, positions, mask, rows, 1, batch.Caches);
        _metrics.RecordStep(rows, start);
        Interlocked.Increment(ref _decodeSteps);
        if (rows > _largestStep)
        {
            Volatile.Write(ref _largestStep, rows);
        }

        var next = new KvBatch(outputs.Skip(1).ToArray(), outputs, total);
        batch.Dispose();
        _batch = next;

        var vocabulary = _model.VocabularySize;
        var logits = outputs[0].GetTensorDataAsSpan<float>();
        for (var b = 0; b < rows; b++)
        {
            var sequence = _active[b];
            sequence.Length++;
            if (!sequence.IsDone)
            {
                Accept(sequence, logits.Slice(b * vocabulary, vocabulary));
            }
        }
    }

    /// <summary>Samples the sequence's next token and streams what it adds; ends the sequence on EOS, a stop sequence or max_tokens.</summary>
    private void Accept(Sequence sequence, ReadOnlySpan<float> logits)
    {
        var token = sequence.Sampler.Next(logits, _scratch);
        sequence.TokenLog?.Add(token);
        sequence.CompletionTokens++;
        sequence.LastToken = token;
        if (_tokenizer.EosTokenIds.Contains(token))
        {
            sequence.Finish(sequence.Text.Finish(), "stop");
            return;
        }

        var text = sequence.Text.Append(_tokenizer.TokenBytes(token));
        if (sequence.Text.Stopped)
        {
            sequence.Finish(text, "stop");
        }
        else if (sequence.CompletionTokens >= sequence.Options.MaxTokens)
        {
            sequence.Finish(text + sequence.Text.Finish(), sequence.Text.Stopped ? "stop" : "length");
        }
        else if (text.Length > 0)
        {
            sequence.Emit(text);
        }
    }

    /// <summary>The batch cache: 2 x layers values [rows, heads, <see cref="MaxLength"/>, head_dim], rows right-aligned.</summary>
    private sealed class KvBatch(IReadOnlyList<OrtValue> caches, IDisposable owner, int maxLength) : IDisposable
    {
        public IReadOnlyList<OrtValue> Caches { get; } = caches;

        public int MaxLength { get; } = maxLength;

        public void Dispose() => owner.Dispose();
    }

    /// <summary>Disposes values it was given.</summary>
    private sealed class OwnedValues(OrtValue[] values) : IDisposable
    {
        public void Dispose()
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }

    /// <summary>One request: its prompt, options, sampler, streamed text and place in the batch.</summary>
    private sealed class Sequence(int[] promptIds, GenerationOptions options)
    {
        private readonly Channel<GenerationChunk> _chunks = Channel.CreateUnbounded<GenerationChunk>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        private int _done;

        public int[] PromptIds { get; } = promptIds;

        public GenerationOptions Options { get; } = options;

        public TokenSampler Sampler { get; } = new(options);

        public CompletionText Text { get; } = new(options.Stop);

        public ChannelReader<GenerationChunk> Chunks => _chunks.Reader;

        public bool IsDone => Volatile.Read(ref _done) != 0;

        /// <summary>Tokens in this sequence's cache.</summary>
        public int Length { get; set; }

        public int Row { get; set; }

        public int LastToken { get; set; }

        /// <summary>Where the chosen token ids are recorded, if anywhere (tests and benchmarks).</summary>
        public List<int>? TokenLog { get; init; }

        public int CompletionTokens { get; set; }

        /// <summary>The prefill's outputs until the sequence joins the batch cache.</summary>
        public IDisposableReadOnlyCollection<OrtValue>? Cache { get; set; }

        public void Emit(string text) => _chunks.Writer.TryWrite(new GenerationChunk(text, PromptIds.Length, CompletionTokens, null));

        public void Finish(string text, string reason)
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                _chunks.Writer.TryWrite(new GenerationChunk(text, PromptIds.Length, CompletionTokens, reason));
                _chunks.Writer.TryComplete();
            }
        }

        public void Fail(Exception error)
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                _chunks.Writer.TryComplete(error);
            }

            DisposeCache();
        }

        /// <summary>Marks the sequence done; true when it was still running.</summary>
        public bool Cancel()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                _chunks.Writer.TryComplete();
                return true;
            }

            return false;
        }

        public void DisposeCache()
        {
            Cache?.Dispose();
            Cache = null;
        }
    }
}
