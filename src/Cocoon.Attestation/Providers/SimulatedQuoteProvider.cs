using System.Security.Cryptography;
using System.Text;
using Cocoon.Attestation.Quotes;

namespace Cocoon.Attestation.Providers;

/// <summary>
/// Devnet quotes without TDX (DESIGN.md section 2). They have the real quote v4 layout and pass the same four
/// signature steps against the dev root, and are marked three ways: attestation key type
/// <see cref="TdxQuote.SimulatedAttestationKeyType"/> (0xC0C0, not an Intel value), QE vendor id
/// <see cref="TdxQuote.SimulatedQeVendorId"/> ("COCOON-SIMULATED"), and a PCK chain under <see cref="SimulatedAttestationAuthority.RootSubject"/>.
/// A verifier in production mode refuses them before checking anything else.
/// </summary>
public sealed class SimulatedQuoteProvider : IQuoteProvider, IDisposable
{
    private static readonly byte[] SimulatedQeMrSigner = SHA256.HashData(Encoding.ASCII.GetBytes("cocoon-simulated-qe"));

    private readonly SimulatedAttestationAuthority _authority;
    private readonly SimulatedTdMeasurements _measurements;
    private readonly ECDsa _attestationKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public SimulatedQuoteProvider(SimulatedAttestationAuthority authority, SimulatedTdMeasurements measurements)
    {
        _authority = authority;
        _measurements = measurements;
    }

    /// <inheritdoc />
    public bool IsSimulated => true;

    /// <summary>The measurements this provider reports.</summary>
    public SimulatedTdMeasurements Measurements => _measurements;

    /// <inheritdoc />
    public ValueTask<byte[]> GetQuoteAsync(ReadOnlyMemory<byte> reportData, CancellationToken cancellationToken = default)
    {
        if (reportData.Length != 64)
        {
            throw new ArgumentException("REPORTDATA must be 64 bytes", nameof(reportData));
        }

        cancellationToken.ThrowIfCancellationRequested();
        var tdAttributes = _measurements.TdAttributes is { Length: 8 } explicitAttributes ? (byte[])explicitAttributes.Clone() : new byte[8];
        if (_measurements.TdAttributes is null)
        {
            tdAttributes[3] = 0x10; // SEPT_VE_DISABLE, as real Cocoon TDs set it
        }

        if (_measurements.Debug)
        {
            tdAttributes[0] |= 0x01; // TUD.DEBUG
        }

        var fields = new TdReportFields
        {
            TdAttributes = tdAttributes,
            Xfam = _measurements.Xfam is { Length: 8 } xfam ? xfam : new byte[8],
            MrTd = _measurements.MrTd,
            MrConfigId = _measurements.MrConfigId,
            MrOwner = _measurements.MrOwner,
            MrOwnerConfig = _measurements.MrOwnerConfig,
            Rtmr0 = _measurements.Rtmr0,
            Rtmr1 = _measurements.Rtmr1,
            Rtmr2 = _measurements.Rtmr2,
            Rtmr3 = _measurements.Rtmr3,
            ReportData = reportData.ToArray(),
        };

        var qeReport = new byte[EnclaveReport.Size];
        SimulatedQeMrSigner.CopyTo(qeReport, 128);
        qeReport[256] = 2; // isv_prod_id of a TD QE
        var authData = new byte[32];
        for (var i = 0; i < authData.Length; i++)
        {
            authData[i] = (byte)i;
        }

        var quote = QuoteBuilder.Build(
            TdxQuote.SimulatedAttestationKeyType,
            TdxQuote.SimulatedQeVendorId,
            fields,
            _attestationKey,
            _authority.PckKey,
            qeReport,
            authData,
            _authority.ChainPem);
        return ValueTask.FromResult(quote);
    }

    public void Dispose() => _attestationKey.Dispose();
}
