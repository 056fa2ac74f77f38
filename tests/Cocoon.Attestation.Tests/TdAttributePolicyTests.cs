using System.Buffers.Binary;
using Cocoon.Attestation.Policy;
using Cocoon.Attestation.Providers;
using Cocoon.Attestation.Quotes;
using Cocoon.Attestation.Verification;
using Microsoft.Extensions.Time.Testing;

namespace Cocoon.Attestation.Tests;

/// <summary>
/// TD attribute and XFAM checks of <see cref="AttestationPolicy"/>: on the real vectors (whose TDATTRIBUTES are what the
/// platforms reported) and on simulated quotes re-signed with single bits flipped, so the signature steps pass and
/// only the policy can refuse.
/// </summary>
public sealed class TdAttributePolicyTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private readonly SimulatedAttestationAuthority _authority = SimulatedAttestationAuthority.Create(Now);

    public void Dispose() => _authority.Dispose();

    [Fact]
    public void The_vectors_attributes_are_read_and_the_production_checks_judge_them()
    {
        foreach (var v in new[] { Vectors.V4, Vectors.V5, Vectors.Phala })
        {
            var verified = VerificationTests.VerifierAt(v.Clock).Verify(Vectors.Read(v.File));
            Assert.True(verified.IsValid, verified.Message);
            var attributes = BinaryPrimitives.ReadUInt64LittleEndian(verified.Quote!.Body.TdAttributes.Span);
            Assert.Equal(v.TdAttributes, Convert.ToHexStringLower(verified.Quote.Body.TdAttributes.Span));
            Assert.False(verified.Quote.Body.IsDebug);

            var result = AttestationPolicy.Production.Apply(verified);
            if (v == Vectors.V4)
            {
                // go-tdx-guest's SPR sample: PKS on, SEPT_VE_DISABLE off.
                Assert.Equal(TdAttributeBits.Pks, attributes);
                Assert.Equal(VerificationStep.Policy, result.FailedStep);
                Assert.Contains("TDATTRIBUTES 0x0000000040000000 refused (required bits clear: SEPT_VE_DISABLE; forbidden bits set: PKS)", result.Message, StringComparison.Ordinal);
                Assert.True(new AttestationPolicy().Apply(verified).IsValid);
            }
            else
            {
                Assert.Equal(TdAttributeBits.SeptVeDisable, attributes);
                Assert.True(result.IsValid, result.Message);
            }
        }
    }

    [Theory]
    [InlineData(0, "DEBUG")]
    [InlineData(30, "PKS")]
    [InlineData(31, "KL")]
    [InlineData(63, "PERFMON")]
    public async Task A_resigned_quote_with_a_forbidden_attribute_bit_set_is_refused_by_the_production_policy(int bit, string name)
    {
        var verified = await VerifyAsync(TdAttributeBits.SeptVeDisable | (1UL << bit));
        Assert.True(verified.IsValid, verified.Message); // the signatures are good: only the policy refuses

        var result = AttestationPolicy.Production.Apply(verified);

        Assert.Equal(VerificationStep.Policy, result.FailedStep);
        Assert.Contains(name, result.Message, StringComparison.Ordinal);
        var relaxed = AttestationPolicy.Production with { AllowDebug = true, ForbiddenTdAttributes = 0 };
        Assert.True(relaxed.Apply(verified).IsValid, relaxed.Apply(verified).Message);
    }

    [Fact]
    public async Task A_resigned_quote_without_sept_ve_disable_is_refused_unless_the_policy_drops_the_requirement()
    {
        var verified = await VerifyAsync(0);
        Assert.True(verified.IsValid, verified.Message);

        var result = AttestationPolicy.Production.Apply(verified);

        Assert.Equal(VerificationStep.Policy, result.FailedStep);
        Assert.Contains("required bits clear: SEPT_VE_DISABLE", result.Message, StringComparison.Ordinal);
        Assert.True((AttestationPolicy.Production with { RequiredTdAttributes = 0 }).Apply(verified).IsValid);
        Assert.True(AttestationPolicy.Production.Apply(await VerifyAsync(TdAttributeBits.SeptVeDisable)).IsValid);
    }

    [Fact]
    public async Task Xfam_bits_are_checked_when_the_policy_names_them()
    {
        const ulong avx512AndLbr = 0xe7UL | XfamBits.Lbr;
        var verified = await VerifyAsync(TdAttributeBits.SeptVeDisable, avx512AndLbr);
        Assert.True(verified.IsValid, verified.Message);

        var forbidLbr = AttestationPolicy.Production with { ForbiddenXfam = XfamBits.Lbr | XfamBits.Pt };
        var requireAmx = AttestationPolicy.Production with { RequiredXfam = 3UL << 17 };

        Assert.True(AttestationPolicy.Production.Apply(verified).IsValid);
        Assert.Contains("forbidden bits set: LBR", forbidLbr.Apply(verified).Message, StringComparison.Ordinal);
        Assert.Contains("required bits clear: AMX (bit 17), AMX (bit 18)", requireAmx.Apply(verified).Message, StringComparison.Ordinal);
        Assert.True(forbidLbr.Apply(await VerifyAsync(TdAttributeBits.SeptVeDisable, 0xe7)).IsValid);
    }

    [Fact]
    public async Task Flipping_an_attribute_bit_without_re_signing_breaks_the_quote_signature()
    {
        using var provider = Provider(TdAttributeBits.SeptVeDisable, 0);
        var bytes = await provider.GetQuoteAsync(new byte[64], TestContext.Current.CancellationToken);
        bytes[QuoteHeader.Size + 16 + 48 + 48 + 8] ^= 0x01; // TDATTRIBUTES byte 0: DEBUG

        var result = Verifier().Verify(bytes);

        Assert.Equal(VerificationStep.QuoteSignature, result.FailedStep);
    }

    private async Task<QuoteVerificationResult> VerifyAsync(ulong tdAttributes, ulong xfam = 0)
    {
        using var provider = Provider(tdAttributes, xfam);
        return Verifier().Verify(await provider.GetQuoteAsync(new byte[64], TestContext.Current.CancellationToken));
    }

    private SimulatedQuoteProvider Provider(ulong tdAttributes, ulong xfam)
    {
        var attributes = new byte[8];
        var xfamBytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(attributes, tdAttributes);
        BinaryPrimitives.WriteUInt64LittleEndian(xfamBytes, xfam);
        return new SimulatedQuoteProvider(_authority, SimulatedTdMeasurements.ForImage("cocoon-attributes") with { TdAttributes = attributes, Xfam = xfamBytes });
    }

    private QuoteVerifier Verifier() => new(new QuoteVerifierOptions
    {
        Mode = AttestationMode.Devnet,
        TimeProvider = new FakeTimeProvider(Now),
        SimulatedRoot = _authority.RootCertificate,
    });
}
