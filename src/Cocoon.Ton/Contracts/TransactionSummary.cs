using System.Numerics;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Cells;

namespace Cocoon.Ton.Contracts;

/// <summary>How a transaction's compute phase ended.</summary>
public enum ComputePhaseKind
{
    /// <summary>The VM ran (see <see cref="TransactionSummary.ExitCode"/>).</summary>
    Vm,

    /// <summary>Skipped: the account has no state (no code) and the message brought none.</summary>
    SkippedNoState,

    /// <summary>Skipped: the StateInit sent does not match the address.</summary>
    SkippedBadState,

    /// <summary>Skipped: no gas (not enough value to pay for any).</summary>
    SkippedNoGas,

    /// <summary>Skipped: the account is suspended.</summary>
    SkippedSuspended,

    /// <summary>No compute phase (a storage, split or merge transaction).</summary>
    None,
}

/// <summary>
/// What a transaction did, read from its cell (toncenter's <c>data</c>): the inbound message (kind, source, value,
/// op), the compute phase (exit code, gas), the action phase and whether it aborted. TL-B from block.tlb
/// (<c>transaction$0111</c>, <c>trans_ord$0000</c>, <c>TrComputePhase</c>, <c>TrActionPhase</c>; tblkch.pdf 4.2).
/// </summary>
public sealed record TransactionSummary
{
    /// <summary>The account's address hash.</summary>
    public required byte[] AccountHash { get; init; }

    /// <summary>Logical time.</summary>
    public required ulong Lt { get; init; }

    /// <summary>Unix time.</summary>
    public required uint Now { get; init; }

    /// <summary>Number of outbound messages.</summary>
    public required int OutMessageCount { get; init; }

    /// <summary>Total fees in nanoTON.</summary>
    public required BigInteger TotalFees { get; init; }

    /// <summary>True for an inbound external message, false for an internal one, null when there was none.</summary>
    public bool? InMessageExternal { get; init; }

    /// <summary>Sender of an internal inbound message.</summary>
    public TonAddress? InMessageSource { get; init; }

    /// <summary>Value of an internal inbound message, nanoTON.</summary>
    public BigInteger InMessageValue { get; init; }

    /// <summary>Whether the inbound message was a bounced one.</summary>
    public bool InMessageBounced { get; init; }

    /// <summary>The inbound message body (empty cell when none).</summary>
    public Cell? InMessageBody { get; init; }

    /// <summary>The first 32 bits of the inbound body (its op), or null when shorter.</summary>
    public uint? InMessageOp { get; init; }

    /// <summary>The compute phase's kind.</summary>
    public required ComputePhaseKind Compute { get; init; }

    /// <summary>Whether the VM ended successfully (exit code 0 or 1 and the phase committed).</summary>
    public bool ComputeSuccess { get; init; }

    /// <summary>The VM's exit code (0 when it did not run).</summary>
    public int ExitCode { get; init; }

    /// <summary>Gas used by the VM.</summary>
    public long GasUsed { get; init; }

    /// <summary>Whether there was an action phase and it succeeded; null when there was none.</summary>
    public bool? ActionSuccess { get; init; }

    /// <summary>The action phase's result code (0 when none or successful).</summary>
    public int ActionResultCode { get; init; }

    /// <summary>Whether the transaction aborted (its state changes were not applied).</summary>
    public required bool Aborted { get; init; }

    /// <summary>True when the VM succeeded and the transaction did not abort.</summary>
    public bool Succeeded => Compute == ComputePhaseKind.Vm && ComputeSuccess && !Aborted;

    /// <summary>Reads a transaction cell.</summary>
    /// <exception cref="FormatException">Not a transaction, or malformed.</exception>
    public static TransactionSummary Parse(Cell transaction)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        try
        {
            return ParseCore(transaction);
        }
        catch (InvalidOperationException e)
        {
            throw new FormatException($"malformed transaction cell: {e.Message}", e);
        }
    }

    private static TransactionSummary ParseCore(Cell transaction)
    {
        var s = transaction.BeginParse();
        if (s.LoadUInt(4) != 0b0111)
        {
            throw new FormatException("not a transaction (tag is not transaction$0111)");
        }

        var account = s.LoadBytes(32);
        var lt = s.LoadUInt(64);
        s.Skip(256 + 64); // prev_trans_hash, prev_trans_lt
        var now = (uint)s.LoadUInt(32);
        var outCount = (int)s.LoadUInt(15);
        s.Skip(2 + 2); // orig_status, end_status
        var messages = s.LoadRef().BeginParse();
        var totalFees = s.LoadCoins();
        s.LoadMaybeRef(); // extra currencies
        s.LoadRef(); // state_update
        var description = s.LoadRef().BeginParse();

        var summary = new TransactionSummary
        {
            AccountHash = account,
            Lt = lt,
            Now = now,
            OutMessageCount = outCount,
            TotalFees = totalFees,
            Compute = ComputePhaseKind.None,
            Aborted = false,
        };

        if (messages.LoadBit())
        {
            summary = WithInMessage(summary, messages.LoadRef());
        }

        return WithDescription(summary, description);
    }

    private static TransactionSummary WithInMessage(TransactionSummary summary, Cell message)
    {
        var m = message.BeginParse();
        bool external;
        TonAddress? source = null;
        var value = BigInteger.Zero;
        var bounced = false;
        if (!m.LoadBit())
        {
            // int_msg_info$0 ihr_disabled bounce bounced src dest value:CurrencyCollection ihr_fee/extra_flags fwd_fee created_lt created_at
            external = false;
            m.LoadBit();
            m.LoadBit();
            bounced = m.LoadBit();
            source = m.LoadMaybeAddress();
            m.LoadMaybeAddress();
            value = m.LoadCoins();
            m.LoadMaybeRef();
            m.LoadCoins();
            m.LoadCoins();
            m.Skip(64 + 32);
        }
        else if (!m.LoadBit())
        {
            // ext_in_msg_info$10 src:MsgAddressExt dest:MsgAddressInt import_fee
            external = true;
            m.LoadMaybeExternalAddress();
            m.LoadMaybeAddress();
            m.LoadCoins();
        }
        else
        {
            throw new FormatException("inbound message is ext_out_msg_info");
        }

        if (m.LoadBit())
        {
            if (m.LoadBit())
            {
                m.LoadRef();
            }
            else
            {
                StateInit.Load(m);
            }
        }

        var body = m.LoadBit() ? m.LoadRef() : m.ToCell();
        var bs = body.BeginParse();
        return summary with
        {
            InMessageExternal = external,
            InMessageSource = source,
            InMessageValue = value,
            InMessageBounced = bounced,
            InMessageBody = body,
            InMessageOp = bs.RemainingBits >= 32 ? (uint)bs.LoadUInt(32) : null,
        };
    }

    private static TransactionSummary WithDescription(TransactionSummary summary, CellSlice d)
    {
        var tag = d.PreloadUInt(4);
        if (tag == 0b0000)
        {
            // trans_ord$0000 credit_first storage_ph:(Maybe) credit_ph:(Maybe) compute_ph action:(Maybe ^) aborted bounce:(Maybe) destroyed
            d.Skip(4);
            d.LoadBit();
            if (d.LoadBit())
            {
                SkipStoragePhase(d);
            }

            if (d.LoadBit())
            {
                SkipCreditPhase(d);
            }

            summary = WithCompute(summary, d);
            var action = d.LoadMaybeRef();
            summary = WithAction(summary, action);
            return summary with { Aborted = d.LoadBit() };
        }

        if (d.PreloadUInt(3) == 0b001)
        {
            // trans_tick_tock$001 is_tock storage_ph compute_ph action:(Maybe ^) aborted destroyed
            d.Skip(3);
            d.LoadBit();
            SkipStoragePhase(d);
            summary = WithCompute(summary, d);
            summary = WithAction(summary, d.LoadMaybeRef());
            return summary with { Aborted = d.LoadBit() };
        }

        return summary;
    }

    private static void SkipStoragePhase(CellSlice d)
    {
        d.LoadCoins();
        if (d.LoadBit())
        {
            d.LoadCoins();
        }

        SkipStatusChange(d);
    }

    private static void SkipStatusChange(CellSlice d)
    {
        // acst_unchanged$0 | acst_frozen$10 | acst_deleted$11
        if (d.LoadBit())
        {
            d.LoadBit();
        }
    }

    private static void SkipCreditPhase(CellSlice d)
    {
        if (d.LoadBit())
        {
            d.LoadCoins();
        }

        d.LoadCoins();
        d.LoadMaybeRef();
    }

    private static TransactionSummary WithCompute(TransactionSummary summary, CellSlice d)
    {
        if (!d.LoadBit())
        {
            // tr_phase_compute_skipped$0 reason: cskip_no_state$00 | cskip_bad_state$01 | cskip_no_gas$10 | cskip_suspended$110
            var reason = d.LoadUInt(2) switch
            {
                0b00 => ComputePhaseKind.SkippedNoState,
                0b01 => ComputePhaseKind.SkippedBadState,
                0b10 => ComputePhaseKind.SkippedNoGas,
                _ => d.LoadBit() ? throw new FormatException("unknown compute skip reason") : ComputePhaseKind.SkippedSuspended,
            };
            return summary with { Compute = reason };
        }

        // tr_phase_compute_vm$1 success msg_state_used account_activated gas_fees ^[gas_used gas_limit gas_credit mode exit_code exit_arg vm_steps hashes]
        var success = d.LoadBit();
        d.LoadBit();
        d.LoadBit();
        d.LoadCoins();
        var vm = d.LoadRef().BeginParse();
        var gasUsed = (long)vm.LoadVarUInt(7);
        vm.LoadVarUInt(7);
        if (vm.LoadBit())
        {
            vm.LoadVarUInt(3);
        }

        vm.LoadInt(8);
        var exitCode = (int)vm.LoadInt(32);
        return summary with { Compute = ComputePhaseKind.Vm, ComputeSuccess = success, ExitCode = exitCode, GasUsed = gasUsed };
    }

    private static TransactionSummary WithAction(TransactionSummary summary, Cell? action)
    {
        if (action is null)
        {
            return summary;
        }

        // success valid no_funds status_change total_fwd_fees:(Maybe) total_action_fees:(Maybe) result_code:int32 …
        var a = action.BeginParse();
        var success = a.LoadBit();
        a.LoadBit();
        a.LoadBit();
        SkipStatusChange(a);
        if (a.LoadBit())
        {
            a.LoadCoins();
        }

        if (a.LoadBit())
        {
            a.LoadCoins();
        }

        return summary with { ActionSuccess = success, ActionResultCode = (int)a.LoadInt(32) };
    }
}
