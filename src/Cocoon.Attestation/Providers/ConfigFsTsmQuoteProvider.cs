using System.Globalization;

namespace Cocoon.Attestation.Providers;

/// <summary>
/// Real TDX quotes through the Linux configfs-tsm interface (Documentation/ABI/testing/configfs-tsm): create a
/// report entry under <c>/sys/kernel/config/tsm/report</c>, write the 64-byte REPORTDATA to <c>inblob</c>, read
/// the quote from <c>outblob</c>, check <c>generation</c> to detect a concurrent writer, remove the entry.
/// </summary>
public sealed class ConfigFsTsmQuoteProvider : IQuoteProvider
{
    /// <summary>Where the kernel mounts the TSM report interface.</summary>
    public const string DefaultRoot = "/sys/kernel/config/tsm/report";

    private readonly string _root;
    private readonly Func<string> _entryName;

    /// <param name="root">The report directory; tests point it elsewhere.</param>
    /// <param name="entryName">Names a fresh entry per request; a unique name keeps concurrent callers apart.</param>
    public ConfigFsTsmQuoteProvider(string root = DefaultRoot, Func<string>? entryName = null)
    {
        _root = root;
        _entryName = entryName ?? (() => "cocoon-" + Guid.NewGuid().ToString("N"));
    }

    /// <inheritdoc />
    public bool IsSimulated => false;

    /// <summary>True when the configfs-tsm report directory exists on this machine.</summary>
    public bool IsAvailable => Directory.Exists(_root);

    /// <inheritdoc />
    public async ValueTask<byte[]> GetQuoteAsync(ReadOnlyMemory<byte> reportData, CancellationToken cancellationToken = default)
    {
        if (reportData.Length != 64)
        {
            throw new ArgumentException("REPORTDATA must be 64 bytes", nameof(reportData));
        }

        if (!IsAvailable)
        {
            throw new QuoteProviderException($"configfs-tsm is not available: {_root} does not exist (not a TDX guest, or configfs not mounted)");
        }

        var entry = Path.Combine(_root, _entryName());
        try
        {
            Directory.CreateDirectory(entry);
            var provider = Path.Combine(entry, "provider");
            if (File.Exists(provider))
            {
                var name = (await File.ReadAllTextAsync(provider, cancellationToken).ConfigureAwait(false)).Trim();
                if (name != "tdx_guest")
                {
                    throw new QuoteProviderException($"configfs-tsm provider is '{name}', not tdx_guest");
                }
            }

            await File.WriteAllBytesAsync(Path.Combine(entry, "inblob"), reportData.ToArray(), cancellationToken).ConfigureAwait(false);
            var expectedGeneration = await ReadGenerationAsync(entry, cancellationToken).ConfigureAwait(false);
            var quote = await File.ReadAllBytesAsync(Path.Combine(entry, "outblob"), cancellationToken).ConfigureAwait(false);
            var generation = await ReadGenerationAsync(entry, cancellationToken).ConfigureAwait(false);
            if (generation != expectedGeneration)
            {
                throw new QuoteProviderException($"configfs-tsm entry {entry} was written concurrently (generation {expectedGeneration} -> {generation})");
            }

            if (quote.Length == 0)
            {
                throw new QuoteProviderException($"configfs-tsm returned an empty outblob in {entry}");
            }

            return quote;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new QuoteProviderException($"configfs-tsm request in {entry} failed: {e.Message}", e);
        }
        finally
        {
            try
            {
                // configfs removes the attribute files with the directory: rmdir, never a recursive delete.
                Directory.Delete(entry, recursive: false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Best effort: a leftover entry is harmless and the kernel frees it on reboot.
            }
        }
    }

    private static async Task<long?> ReadGenerationAsync(string entry, CancellationToken cancellationToken)
    {
        var path = Path.Combine(entry, "generation");
        if (!File.Exists(path))
        {
            return null;
        }

        var text = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
        return long.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;
    }
}
