using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Cells;
using Cocoon.Ton.Toncenter;
using Cocoon.Ton.Wallets;

namespace Cocoon.Ton.Contracts;

/// <summary>
/// The root's pricing parameters (DESIGN 5), in root.tolk's <c>RootParams</c> order (cocoon's, without its
/// struct_version/unique_id/is_test and child code). Multipliers: 10000 = 1.0x.
/// </summary>
public sealed record RootParams(
    uint ParamsVersion,
    BigInteger PricePerToken,
    BigInteger WorkerFeePerToken,
    uint PromptTokensPriceMultiplier,
    uint CachedTokensPriceMultiplier,
    uint CompletionTokensPriceMultiplier,
    uint ReasoningTokensPriceMultiplier,
    uint ProxyDelayBeforeClose,
    uint ClientDelayBeforeClose,
    BigInteger MinProxyStake,
    BigInteger MinClientStake)
{
    /// <summary>The fake-TON values of shared/reference/cocoon.md section 3 (2 and 1 nanoTON per token), which the localnet deploys with.</summary>
    public static RootParams FakeTonDefaults { get; } = new(1, 2, 1, 10000, 1000, 30000, 30000, 600, 300, 1_000_000_000, 1_000_000_000);

    /// <summary>The params cell.</summary>
    public Cell ToCell() =>
        new CellBuilder().StoreUInt(ParamsVersion, 32).StoreCoins(PricePerToken).StoreCoins(WorkerFeePerToken)
            .StoreUInt(PromptTokensPriceMultiplier, 32).StoreUInt(CachedTokensPriceMultiplier, 32)
            .StoreUInt(CompletionTokensPriceMultiplier, 32).StoreUInt(ReasoningTokensPriceMultiplier, 32)
            .StoreUInt(ProxyDelayBeforeClose, 32).StoreUInt(ClientDelayBeforeClose, 32)
            .StoreCoins(MinProxyStake).StoreCoins(MinClientStake).EndCell();

    /// <summary>Reads a params cell, refusing leftovers.</summary>
    /// <exception cref="FormatException">Not a params cell.</exception>
    public static RootParams Parse(Cell cell)
    {
        ArgumentNullException.ThrowIfNull(cell);
        try
        {
            var s = cell.BeginParse();
            var p = new RootParams((uint)s.LoadUInt(32), s.LoadCoins(), s.LoadCoins(), (uint)s.LoadUInt(32), (uint)s.LoadUInt(32),
                (uint)s.LoadUInt(32), (uint)s.LoadUInt(32), (uint)s.LoadUInt(32), (uint)s.LoadUInt(32), s.LoadCoins(), s.LoadCoins());
            s.EndParse();
            return p;
        }
        catch (InvalidOperationException e)
        {
            throw new FormatException($"not a root params cell: {e.Message}", e);
        }
    }
}

/// <summary>A proxy's entry in the root: its key and last committed state (all zero when not registered).</summary>
/// <param name="Registered">Whether the proxy is registered.</param>
/// <param name="PublicKey">Its 32-byte Ed25519 key.</param>
/// <param name="Seqno">The last committed state sequence number (0: none yet).</param>
/// <param name="StateHash">The last committed 32-byte state hash.</param>
public sealed record ProxyRegistration(bool Registered, byte[] PublicKey, ulong Seqno, byte[] StateHash);

/// <summary>
/// The root registry of src/Cocoon.Contracts (<c>root.tolk</c>), governed by its owner: allowed image and model hashes,
/// registered proxies with their state commits, and the DESIGN 5 prices. StateInit and address, the bodies of every
/// operation (all owner-only but <c>proxy_save_state</c>, which a registered proxy's wallet sends), and the get-methods.
/// </summary>
public sealed class RootContract
{
    /// <summary><c>root_add_worker_type</c>.</summary>
    public const uint OpAddWorkerType = 0xe34b1c60;

    /// <summary><c>root_del_worker_type</c>.</summary>
    public const uint OpDelWorkerType = 0x8d94a79a;

    /// <summary><c>root_add_proxy_type</c>.</summary>
    public const uint OpAddProxyType = 0x71860e80;

    /// <summary><c>root_del_proxy_type</c>.</summary>
    public const uint OpDelProxyType = 0x3c41d0b2;

    /// <summary><c>root_add_model_hash</c> (Cocoon's).</summary>
    public const uint OpAddModelHash = 0xa3083851;

    /// <summary><c>root_del_model_hash</c> (Cocoon's).</summary>
    public const uint OpDelModelHash = 0xfc31f947;

    /// <summary><c>root_register_proxy</c>.</summary>
    public const uint OpRegisterProxy = 0x927c7cb5;

    /// <summary><c>root_unregister_proxy</c>.</summary>
    public const uint OpUnregisterProxy = 0x6d49eaf2;

    /// <summary><c>root_change_price</c>: replaces all parameters; the contract sets <c>params_version = old + 1</c>.</summary>
    public const uint OpChangeParams = 0xc52ed8d4;

    /// <summary><c>proxy_save_state</c>: a registered proxy commits <c>seqno</c> (strictly increasing) and a state hash.</summary>
    public const uint OpProxySaveState = 0x53109c0f;

    /// <summary>Describes a root owned by <paramref name="owner"/> deployed with <paramref name="parameters"/>.</summary>
    public RootContract(TonAddress owner, RootParams parameters, int workchain = 0)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(parameters);
        Owner = owner;
        Parameters = parameters;
        StateInit = new StateInit(ContractCode.Root, InitialData(owner, parameters));
        Address = TonAddress.FromStateInit(workchain, StateInit);
    }

    /// <summary>The owner at deploy.</summary>
    public TonAddress Owner { get; }

    /// <summary>The parameters at deploy.</summary>
    public RootParams Parameters { get; }

    /// <summary>Code and initial data.</summary>
    public StateInit StateInit { get; }

    /// <summary>The root's address.</summary>
    public TonAddress Address { get; }

    /// <summary>The initial data: <c>owner ^[proxy_hashes worker_hashes model_hashes proxies: four empty HashmapE] ^params</c>.</summary>
    public static Cell InitialData(TonAddress owner, RootParams parameters)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(parameters);
        var maps = new CellBuilder().StoreDictionary(null).StoreDictionary(null).StoreDictionary(null).StoreDictionary(null).EndCell();
        return new CellBuilder().StoreAddress(owner).StoreRef(maps).StoreRef(parameters.ToCell()).EndCell();
    }

    /// <summary>The model hash the root keeps for a model name: SHA-256 of its UTF-8 bytes.</summary>
    public static byte[] ModelHash(string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return SHA256.HashData(Encoding.UTF8.GetBytes(model));
    }

    /// <summary><c>root_add_worker_type query_id hash</c>.</summary>
    public static Cell AddWorkerTypeBody(ulong queryId, ReadOnlySpan<byte> imageHash) => HashBody(OpAddWorkerType, queryId, imageHash);

    /// <summary><c>root_del_worker_type query_id hash</c>.</summary>
    public static Cell DelWorkerTypeBody(ulong queryId, ReadOnlySpan<byte> imageHash) => HashBody(OpDelWorkerType, queryId, imageHash);

    /// <summary><c>root_add_proxy_type query_id hash</c>.</summary>
    public static Cell AddProxyTypeBody(ulong queryId, ReadOnlySpan<byte> imageHash) => HashBody(OpAddProxyType, queryId, imageHash);

    /// <summary><c>root_del_proxy_type query_id hash</c>.</summary>
    public static Cell DelProxyTypeBody(ulong queryId, ReadOnlySpan<byte> imageHash) => HashBody(OpDelProxyType, queryId, imageHash);

    /// <summary><c>root_add_model_hash query_id hash</c>.</summary>
    public static Cell AddModelHashBody(ulong queryId, ReadOnlySpan<byte> modelHash) => HashBody(OpAddModelHash, queryId, modelHash);

    /// <summary><c>root_del_model_hash query_id hash</c>.</summary>
    public static Cell DelModelHashBody(ulong queryId, ReadOnlySpan<byte> modelHash) => HashBody(OpDelModelHash, queryId, modelHash);

    /// <summary><c>root_register_proxy query_id proxy public_key</c>.</summary>
    public static Cell RegisterProxyBody(ulong queryId, TonAddress proxy, ReadOnlySpan<byte> publicKey)
    {
        ArgumentNullException.ThrowIfNull(proxy);
        Need32(publicKey, nameof(publicKey));
        return new CellBuilder().StoreUInt(OpRegisterProxy, 32).StoreUInt(queryId, 64).StoreAddress(proxy).StoreBytes(publicKey).EndCell();
    }

    /// <summary><c>root_unregister_proxy query_id proxy</c>.</summary>
    public static Cell UnregisterProxyBody(ulong queryId, TonAddress proxy)
    {
        ArgumentNullException.ThrowIfNull(proxy);
        return new CellBuilder().StoreUInt(OpUnregisterProxy, 32).StoreUInt(queryId, 64).StoreAddress(proxy).EndCell();
    }

    /// <summary><c>root_change_price query_id ^params</c> (the version sent is ignored; the contract increments its own).</summary>
    public static Cell ChangeParamsBody(ulong queryId, RootParams parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return new CellBuilder().StoreUInt(OpChangeParams, 32).StoreUInt(queryId, 64).StoreRef(parameters.ToCell()).EndCell();
    }

    /// <summary><c>proxy_save_state query_id seqno state_hash</c>, sent from the registered proxy's own wallet.</summary>
    public static Cell ProxySaveStateBody(ulong queryId, ulong seqno, ReadOnlySpan<byte> stateHash)
    {
        Need32(stateHash, nameof(stateHash));
        return new CellBuilder().StoreUInt(OpProxySaveState, 32).StoreUInt(queryId, 64).StoreUInt(seqno, 64).StoreBytes(stateHash).EndCell();
    }

    /// <summary>A wallet message carrying <paramref name="body"/> to the root at <paramref name="root"/> (what is left of <paramref name="value"/> comes back).</summary>
    public static WalletMessage Message(TonAddress root, Cell body, BigInteger value) => ContractGetMethods.ToContract(root, value, body);

    /// <summary><c>get_owner</c>.</summary>
    public static async Task<TonAddress> GetOwnerAsync(ToncenterClient client, TonAddress root, CancellationToken cancellationToken = default)
    {
        var stack = await ContractGetMethods.RunAsync(client, root, "get_owner", 1, cancellationToken: cancellationToken).ConfigureAwait(false);
        return ContractGetMethods.Address(stack[0], root, "get_owner");
    }

    /// <summary><c>get_params</c>: the 11 parameters.</summary>
    public static async Task<RootParams> GetParamsAsync(ToncenterClient client, TonAddress root, CancellationToken cancellationToken = default)
    {
        const string method = "get_params";
        var s = await ContractGetMethods.RunAsync(client, root, method, 11, cancellationToken: cancellationToken).ConfigureAwait(false);
        BigInteger N(int i) => ContractGetMethods.Number(s[i], root, method);
        return new RootParams((uint)N(0), N(1), N(2), (uint)N(3), (uint)N(4), (uint)N(5), (uint)N(6), (uint)N(7), (uint)N(8), N(9), N(10));
    }

    /// <summary><c>has_worker_hash(hash)</c>.</summary>
    public static Task<bool> HasWorkerHashAsync(ToncenterClient client, TonAddress root, byte[] imageHash, CancellationToken cancellationToken = default) =>
        HasAsync(client, root, "has_worker_hash", imageHash, cancellationToken);

    /// <summary><c>has_proxy_hash(hash)</c>.</summary>
    public static Task<bool> HasProxyHashAsync(ToncenterClient client, TonAddress root, byte[] imageHash, CancellationToken cancellationToken = default) =>
        HasAsync(client, root, "has_proxy_hash", imageHash, cancellationToken);

    /// <summary><c>has_model_hash(hash)</c>.</summary>
    public static Task<bool> HasModelHashAsync(ToncenterClient client, TonAddress root, byte[] modelHash, CancellationToken cancellationToken = default) =>
        HasAsync(client, root, "has_model_hash", modelHash, cancellationToken);

    /// <summary><c>get_proxy(address)</c>: <c>(registered, public_key, seqno, state_hash)</c>.</summary>
    public static async Task<ProxyRegistration> GetProxyAsync(ToncenterClient client, TonAddress root, TonAddress proxy, CancellationToken cancellationToken = default)
    {
        const string method = "get_proxy";
        var s = await ContractGetMethods.RunAsync(client, root, method, 4, [ContractGetMethods.AddressArgument(proxy)], cancellationToken).ConfigureAwait(false);
        try
        {
            return new ProxyRegistration(
                !ContractGetMethods.Number(s[0], root, method).IsZero,
                ContractGetMethods.ToBytes256(ContractGetMethods.Number(s[1], root, method)),
                (ulong)ContractGetMethods.Number(s[2], root, method),
                ContractGetMethods.ToBytes256(ContractGetMethods.Number(s[3], root, method)));
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new ContractGetMethodException($"{method} on {root.ToFriendlyString()}: {e.Message}", e);
        }
    }

    private static async Task<bool> HasAsync(ToncenterClient client, TonAddress root, string method, byte[] hash, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(hash);
        var v = await ContractGetMethods.RunIntAsync(client, root, method, [ContractGetMethods.HashArgument(hash)], cancellationToken).ConfigureAwait(false);
        return !v.IsZero;
    }

    private static Cell HashBody(uint op, ulong queryId, ReadOnlySpan<byte> hash)
    {
        Need32(hash, nameof(hash));
        return new CellBuilder().StoreUInt(op, 32).StoreUInt(queryId, 64).StoreBytes(hash).EndCell();
    }

    private static void Need32(ReadOnlySpan<byte> value, string name)
    {
        if (value.Length != 32)
        {
            throw new ArgumentException("must be 32 bytes", name);
        }
    }
}
