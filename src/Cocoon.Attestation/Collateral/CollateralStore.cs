using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Cocoon.Attestation.Quotes;
using Cocoon.Attestation.Verification;

namespace Cocoon.Attestation.Collateral;

/// <summary>
/// Collateral for peers' quotes read from disk: one file, or every <c>*.json</c> file of a folder, each in the
/// <see cref="QuoteCollateral"/> JSON shape that <c>cocoon attest verify --collateral</c> reads (e.g. what a PCCS or
/// Intel PCS returned for a platform's FMSPC). A quote gets the collateral whose TCB info FMSPC is its PCK
/// certificate's; simulated quotes get none (they have no TCB). Files are re-read when the folder changes on
/// <see cref="Reload"/>; a file that does not parse is refused with its name and leaves the store unchanged.
/// </summary>
public sealed class CollateralStore
{
    private readonly string _path;
    private volatile IReadOnlyDictionary<string, QuoteCollateral> _byFmspc = new Dictionary<string, QuoteCollateral>();

    private CollateralStore(string path) => _path = path;

    /// <summary>The file or folder read.</summary>
    public string Path => _path;

    /// <summary>FMSPCs (lower-case hex) with collateral.</summary>
    public IReadOnlyCollection<string> Fmspcs => _byFmspc.Keys.ToArray();

    /// <summary>Reads <paramref name="path"/> (a file or a folder of <c>*.json</c> files).</summary>
    /// <exception cref="FormatException">The path is missing, holds no collateral, or a file does not parse (named).</exception>
    public static CollateralStore Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var store = new CollateralStore(path);
        store.Reload();
        return store;
    }

    /// <summary>Reads the files again; on any error the previous collateral stays and the error is thrown.</summary>
    /// <exception cref="FormatException">As for <see cref="Load"/>.</exception>
    public void Reload()
    {
        string[] files;
        if (File.Exists(_path))
        {
            files = [_path];
        }
        else if (Directory.Exists(_path))
        {
            files = Directory.GetFiles(_path, "*.json").Order(StringComparer.Ordinal).ToArray();
        }
        else
        {
            throw new FormatException($"collateral path {_path} is neither a file nor a folder");
        }

        var byFmspc = new Dictionary<string, QuoteCollateral>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            try
            {
                var collateral = QuoteCollateral.Parse(File.ReadAllText(file));
                var fmspc = Convert.ToHexStringLower(TcbInfo.Parse(collateral.TcbInfoJson).Fmspc);
                if (byFmspc.TryGetValue(fmspc, out var other) &&
                    TcbInfo.Parse(other.TcbInfoJson).IssueDate >= TcbInfo.Parse(collateral.TcbInfoJson).IssueDate)
                {
                    continue; // the newest TCB info for an FMSPC wins
                }

                byFmspc[fmspc] = collateral;
            }
            catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
            {
                throw new FormatException($"collateral file {file}: {e.Message}", e);
            }
        }

        if (byFmspc.Count == 0)
        {
            throw new FormatException($"collateral path {_path} holds no collateral (*.json in the QuoteCollateral shape)");
        }

        _byFmspc = byFmspc;
    }

    /// <summary>
    /// The collateral for <paramref name="quote"/>'s platform (by its PCK certificate's FMSPC), or null: simulated
    /// quotes, quotes without a readable PCK leaf, and platforms without collateral here.
    /// </summary>
    public QuoteCollateral? Find(TdxQuote quote)
    {
        ArgumentNullException.ThrowIfNull(quote);
        if (quote.IsSimulated || quote.SignatureData.QeReportCertificationData.CertificationData.PckCertificateChainPem is not { } pem)
        {
            return null;
        }

        try
        {
            var chain = new X509Certificate2Collection();
            chain.ImportFromPem(pem);
            try
            {
                if (chain.Count == 0)
                {
                    return null;
                }

                var fmspc = Convert.ToHexStringLower(PckCertificateExtensions.Read(chain[0]).Fmspc);
                return _byFmspc.GetValueOrDefault(fmspc);
            }
            finally
            {
                foreach (var certificate in chain)
                {
                    certificate.Dispose();
                }
            }
        }
        catch (CryptographicException)
        {
            return null; // the verifier reports the bad chain at its own step
        }
    }
}
