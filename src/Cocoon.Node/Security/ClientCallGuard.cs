using Cocoon.Abstractions;
using Microsoft.Extensions.Logging;
using Orleans.Serialization.Invocation;

namespace Cocoon.Node.Security;

/// <summary>
/// The incoming grain call filter every silo runs (DESIGN section 2: app backends are untrusted). A call that carries this
/// cluster's silo marker comes from a silo and passes. Any other call comes from an Orleans client and may reach only
/// what <see cref="CallPolicy"/> allows: the public interfaces; the operator interfaces with the operator token; the
/// Orleans runtime's own plumbing. Everything else is refused with a 403 <see cref="CocoonApiException"/> (code
/// <c>forbidden</c>) naming the interface and method, before the grain runs anything.
/// </summary>
public sealed partial class ClientCallGuard(CallerCredentials credentials, ILogger<ClientCallGuard> logger) : IIncomingGrainCallFilter
{
    /// <inheritdoc />
    public Task Invoke(IIncomingGrainCallContext context)
    {
        if (credentials.IsSiloMarker(RequestContext.Get(CallerCredentials.SiloMarkerKey)))
        {
            return context.Invoke();
        }

        var refusal = Check(context.Request, RequestContext.Get(CallerCredentials.OperatorTokenKey));
        if (refusal is null)
        {
            return context.Invoke();
        }

        LogRefused(logger, refusal.Param ?? "?", refusal.Code);
        throw refusal;
    }

    /// <summary>
    /// The refusal for a client's <paramref name="request"/> presenting <paramref name="operatorToken"/>, or null when
    /// the call may go ahead.
    /// </summary>
    public CocoonApiException? Check(IInvokable request, object? operatorToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var interfaceType = request.GetInterfaceType();
        var method = request.GetMethodName();

        // A method returning IAsyncEnumerable is called through the Orleans grain extension: StartEnumeration carries the
        // real request and invokes it without going through the filters again, so that request is what is checked.
        if (interfaceType.Name == "IAsyncEnumerableGrainExtension" && interfaceType.Namespace == "Orleans.Runtime" && method.StartsWith("StartEnumeration", StringComparison.Ordinal))
        {
            IInvokable? inner = null;
            for (var i = 0; i < request.GetArgumentCount(); i++)
            {
                if (request.GetArgument(i) is IInvokable candidate)
                {
                    inner = candidate;
                    break;
                }
            }

            if (inner is null)
            {
                return Forbidden(interfaceType, method, "carries no request");
            }

            return Check(inner, operatorToken);
        }

        switch (CallPolicy.Classify(interfaceType, method))
        {
            case CallAccess.Public:
            case CallAccess.Runtime:
                return null;
            case CallAccess.Operator when credentials.IsOperatorToken(operatorToken):
                return null;
            case CallAccess.Operator:
                return Forbidden(interfaceType, method, operatorToken is null
                    ? "is for operators: connect with the operator token (CocoonClientOptions.OperatorToken)"
                    : credentials.HasOperator
                        ? "is for operators and the operator token presented is wrong"
                        : "is for operators and this cluster has no operator token configured (Cocoon:Operators:TokenSha256)");
            default:
                return Forbidden(interfaceType, method, "is internal to the cluster: clients may call IInferenceServiceGrain (and operators Cocoon.Abstractions.Operations)");
        }
    }

    private static CocoonApiException Forbidden(Type interfaceType, string method, string why)
    {
        var name = interfaceType.IsGenericType ? interfaceType.Name[..interfaceType.Name.IndexOf('`', StringComparison.Ordinal)] : interfaceType.Name;
        return new CocoonApiException(403, "forbidden", $"{name}.{method} {why}.", param: $"{interfaceType.Namespace}.{name}.{method}", type: "permission_error");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Refused a client's call to {Method} ({Code})")]
    private static partial void LogRefused(ILogger logger, string method, string code);
}
