using Cocoon.Attestation.Collateral;
using Cocoon.Attestation.Policy;
using Cocoon.Attestation.Quotes;
using Cocoon.Attestation.Verification;

namespace Cocoon.Attestation.Tests;

/// <summary>
/// <see cref="CollateralStore"/> (what <c>Cocoon:Attestation:CollateralPath</c> points at) with the shared vectors: the
/// Phala quote finds its platform's collateral by FMSPC and gets UpToDate at the vector's clock; a platform without
/// collateral gets none, which a policy with a minimum TCB status refuses.
/// </summary>
public sealed class CollateralStoreTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("cocoon-collateral-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void A_folder_of_collateral_serves_the_quote_of_its_fmspc_and_the_minimum_tcb_status_is_enforced()
    {
        File.Copy(Vectors.PathOf("phala-v4-quote.collateral.json"), Path.Combine(_folder, "b0c06f000000.json"));
        File.WriteAllText(Path.Combine(_folder, "notes.txt"), "not read: only *.json");
        var store = CollateralStore.Load(_folder);
        var phala = TdxQuote.Parse(Vectors.Read(Vectors.Phala.File));
        var v5 = TdxQuote.Parse(Vectors.Read(Vectors.V5.File));
        var policy = new AttestationPolicy { MinimumTcbStatus = TcbStatus.UpToDate };
        var verifier = VerificationTests.VerifierAt(Vectors.PhalaClock);

        Assert.Equal(["b0c06f000000"], store.Fmspcs);
        var collateral = store.Find(phala);
        Assert.NotNull(collateral);
        Assert.Null(store.Find(v5)); // FMSPC 90c06f000000: no collateral here

        var withCollateral = policy.Apply(verifier.Verify(phala, collateral));
        Assert.True(withCollateral.IsValid, withCollateral.Message);
        Assert.Equal(TcbStatus.UpToDate, withCollateral.TcbStatus);

        var without = policy.Apply(VerificationTests.VerifierAt(Vectors.V5.Clock).Verify(v5, store.Find(v5)));
        Assert.Equal(VerificationStep.Policy, without.FailedStep);
        Assert.Contains("requires a TCB status", without.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_single_file_works_and_bad_paths_or_files_are_refused_by_name_leaving_the_store_as_it_was()
    {
        var file = Path.Combine(_folder, "phala.json");
        File.Copy(Vectors.PathOf("phala-v4-quote.collateral.json"), file);
        var store = CollateralStore.Load(file);
        Assert.NotNull(store.Find(TdxQuote.Parse(Vectors.Read(Vectors.Phala.File))));

        File.WriteAllText(file, "{\"tcb_info\": 1}");
        var bad = Assert.Throws<FormatException>(store.Reload);
        Assert.Contains(file, bad.Message, StringComparison.Ordinal);
        Assert.NotNull(store.Find(TdxQuote.Parse(Vectors.Read(Vectors.Phala.File)))); // the previous collateral stays

        Assert.Throws<FormatException>(() => CollateralStore.Load(Path.Combine(_folder, "missing")));
        var empty = Directory.CreateDirectory(Path.Combine(_folder, "empty")).FullName;
        Assert.Contains("holds no collateral", Assert.Throws<FormatException>(() => CollateralStore.Load(empty)).Message, StringComparison.Ordinal);
    }
}
