namespace Cocoon.Attestation.Collateral;

/// <summary>
/// TCB status from Intel's TCB info and QE identity (Intel PCS API v4, "tcbStatus"), ordered from best to worst
/// so that a policy can name the worst status it accepts.
/// </summary>
public enum TcbStatus
{
    UpToDate = 0,
    SWHardeningNeeded = 1,
    ConfigurationNeeded = 2,
    ConfigurationAndSWHardeningNeeded = 3,
    OutOfDate = 4,
    OutOfDateConfigurationNeeded = 5,
    Revoked = 6,
}

/// <summary>Parsing and combining TCB statuses.</summary>
public static class TcbStatuses
{
    /// <summary>Parses Intel's spelling; throws <see cref="FormatException"/> for an unknown value.</summary>
    public static TcbStatus Parse(string value) => value switch
    {
        "UpToDate" => TcbStatus.UpToDate,
        "SWHardeningNeeded" => TcbStatus.SWHardeningNeeded,
        "ConfigurationNeeded" => TcbStatus.ConfigurationNeeded,
        "ConfigurationAndSWHardeningNeeded" => TcbStatus.ConfigurationAndSWHardeningNeeded,
        "OutOfDate" => TcbStatus.OutOfDate,
        "OutOfDateConfigurationNeeded" => TcbStatus.OutOfDateConfigurationNeeded,
        "Revoked" => TcbStatus.Revoked,
        _ => throw new FormatException("unknown tcbStatus '" + value + "'"),
    };

    /// <summary>
    /// Converges the platform status with the status of another component (QE identity, TDX module), as Intel's
    /// QVL does: the worse one wins, and an out-of-date component on a platform that needs configuration gives
    /// OutOfDateConfigurationNeeded.
    /// </summary>
    public static TcbStatus Converge(TcbStatus platform, TcbStatus component)
    {
        if (component == TcbStatus.Revoked || platform == TcbStatus.Revoked)
        {
            return TcbStatus.Revoked;
        }

        if (component is TcbStatus.OutOfDate or TcbStatus.OutOfDateConfigurationNeeded)
        {
            return platform is TcbStatus.ConfigurationNeeded or TcbStatus.ConfigurationAndSWHardeningNeeded or TcbStatus.OutOfDateConfigurationNeeded
                ? TcbStatus.OutOfDateConfigurationNeeded
                : TcbStatus.OutOfDate;
        }

        return platform >= component ? platform : component;
    }
}
