namespace Cocoon.Ton.Contracts;

/// <summary>
/// Exit codes the Cocoon contracts throw (src/Cocoon.Contracts/contracts/common.tolk; the README's table), as a
/// transaction's compute phase reports them.
/// </summary>
public static class ContractErrors
{
    /// <summary>A body too short for its op, or with leftover bits or references (TVM cell underflow).</summary>
    public const int CellUnderflow = 9;

    /// <summary>Wrong sender (not the owner, not a registered proxy).</summary>
    public const int WrongSender = 401;

    /// <summary>The Ed25519 signature over the payload does not verify under <c>proxy_public_key</c>.</summary>
    public const int BadSignature = 402;

    /// <summary>The payload was signed for another contract.</summary>
    public const int WrongTarget = 403;

    /// <summary>Op or query id of the payload differ from the wrapper's, or the payload has leftovers.</summary>
    public const int MalformedPayload = 404;

    /// <summary>The token count is not above the one already charged or paid (a replay, or a smaller count).</summary>
    public const int TokensNotIncreasing = 405;

    /// <summary>Not enough funds (balance, prefund, or the value sent).</summary>
    public const int NotEnoughFunds = 406;

    /// <summary>Wrong state (closing or closed, already registered).</summary>
    public const int WrongState = 407;

    /// <summary>Too early: a close before <c>unlock_ts</c>.</summary>
    public const int TooEarly = 408;

    /// <summary>A proxy state commit whose seqno is not above the stored one.</summary>
    public const int SeqnoNotIncreasing = 409;

    /// <summary>Not registered or not found.</summary>
    public const int NotRegistered = 410;

    /// <summary>Unknown op or empty body.</summary>
    public const int UnknownOp = 0xFFFF;

    /// <summary>A short name for an exit code, for messages and logs.</summary>
    public static string Describe(int exitCode) => exitCode switch
    {
        0 => "ok",
        1 => "ok (alternative)",
        CellUnderflow => "cell underflow (malformed body)",
        WrongSender => "wrong sender",
        BadSignature => "bad signature",
        WrongTarget => "signed for another contract",
        MalformedPayload => "malformed payload",
        TokensNotIncreasing => "token count not increasing",
        NotEnoughFunds => "not enough funds",
        WrongState => "wrong state",
        TooEarly => "too early",
        SeqnoNotIncreasing => "seqno not increasing",
        NotRegistered => "not registered",
        UnknownOp => "unknown op",
        _ => $"exit code {exitCode}",
    };
}
