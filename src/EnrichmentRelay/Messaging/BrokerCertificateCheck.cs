using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EnrichmentRelay.Messaging;

/// <summary>
/// Whether the relay trusts a broker's TLS certificate: it must chain to a trusted root (the CAs of
/// Bus:TlsCaCertificatePath when given, else the system's) and carry one of the accepted names (Bus:TlsServerName,
/// else the name of one of the configured nodes: each node of a cluster may have a certificate of its own name, and
/// the relay cannot tell which node a connection went to). Replaces MassTransit's default, which accepts any chain.
/// </summary>
public sealed class BrokerCertificateCheck(X509Certificate2Collection? authorities, IReadOnlyList<string> acceptedNames, ILogger logger)
{
    static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            logger.LogError("The broker sent no TLS certificate; not connecting");
            return false;
        }
        using var presented = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (!acceptedNames.Any(name => presented.MatchesHostname(name)))
        {
            logger.LogError("The broker's TLS certificate ({Subject}) is for none of {AcceptedNames}; not connecting (set Bus:TlsServerName to the name it carries)",
                presented.Subject, string.Join(", ", acceptedNames));
            return false;
        }
        if (!IsTrusted(presented, chain, errors, out var why))
        {
            logger.LogError("The broker's TLS certificate ({Subject}, issued by {Issuer}) is not trusted: {Reason}; not connecting",
                presented.Subject, presented.Issuer, why);
            return false;
        }
        return true;
    }

    bool IsTrusted(X509Certificate2 presented, X509Chain? chain, SslPolicyErrors errors, out string why)
    {
        if (authorities is null)
        {
            // The platform's verdict on the chain; the name was checked above, against more than one name.
            why = "it does not chain to a root this system trusts (give the CA in Bus:TlsCaCertificatePath)";
            return (errors & SslPolicyErrors.RemoteCertificateChainErrors) == 0;
        }
        using var own = new X509Chain();
        own.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        own.ChainPolicy.CustomTrustStore.AddRange(authorities);
        own.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        own.ChainPolicy.ApplicationPolicy.Add(ServerAuthentication);
        // Intermediate certificates the broker sent along.
        if (chain is not null)
            own.ChainPolicy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore);
        if (own.Build(presented))
        {
            why = "";
            return true;
        }
        why = string.Join("; ", own.ChainStatus.Select(s => s.StatusInformation.Trim()).Distinct()) + " (against Bus:TlsCaCertificatePath)";
        return false;
    }
}
