//! Known attack-tool and scanner fingerprints in the `User-Agent` header and in tool-specific
//! request headers. One case-insensitive Aho-Corasick pass over the user agent.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// `(tool, substring of its default User-Agent)`. Substrings are chosen to be specific to the
/// tool: generic HTTP libraries (curl, python-requests, Go) are legitimate API clients and are
/// not listed.
pub const SCANNER_USER_AGENTS: &[(&str, &str)] = &[
    ("sqlmap", "sqlmap"),
    ("nikto", "nikto"),
    ("nuclei", "nuclei"),
    ("wpscan", "wpscan"),
    ("masscan", "masscan"),
    ("zgrab", "zgrab"),
    ("gobuster", "gobuster"),
    ("dirbuster", "dirbuster"),
    ("ffuf", "fuzz faster u fool"),
    ("feroxbuster", "feroxbuster"),
    ("wfuzz", "wfuzz"),
    ("nmap", "nmap scripting engine"),
    ("acunetix", "acunetix"),
    ("netsparker", "netsparker"),
    ("nessus", "nessus"),
    ("openvas", "openvas"),
    ("w3af", "w3af"),
    ("arachni", "arachni"),
    ("skipfish", "skipfish"),
    ("havij", "havij"),
    ("commix", "commix"),
    ("xsstrike", "xsstrike"),
    ("jaeles", "jaeles"),
    ("whatweb", "whatweb"),
    ("hydra", "(hydra)"),
    ("zmeu", "zmeu"),
    ("morfeus", "morfeus"),
    ("leakix", "l9explore"),
    ("dirb", "dirb/"),
];

/// Request headers that only scanners send: `(tool, lower-case header name)`.
pub const SCANNER_HEADERS: &[(&str, &str)] = &[
    ("acunetix", "acunetix-product"),
    ("acunetix", "acunetix-scanning-agreement"),
    ("netsparker", "x-scanner"),
    ("webinspect", "x-wipp"),
];

/// Matches user agents against [`SCANNER_USER_AGENTS`].
#[derive(Debug, Clone)]
pub struct ScannerUserAgents {
    automaton: Option<AhoCorasick>,
}

impl ScannerUserAgents {
    /// Compiles the fingerprint list.
    pub fn new() -> Self {
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .build(SCANNER_USER_AGENTS.iter().map(|(_, needle)| needle))
            .ok();
        ScannerUserAgents { automaton }
    }

    /// The tool whose fingerprint appears in `user_agent`, if any.
    pub fn detect(&self, user_agent: &[u8]) -> Option<&'static str> {
        let m = self.automaton.as_ref()?.find(user_agent)?;
        SCANNER_USER_AGENTS
            .get(m.pattern().as_usize())
            .map(|(tool, _)| *tool)
    }
}

impl Default for ScannerUserAgents {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn real_tool_user_agents() {
        let s = ScannerUserAgents::new();
        let cases: &[(&str, &str)] = &[
            ("sqlmap/1.7.2#stable (https://sqlmap.org)", "sqlmap"),
            ("Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)", "nikto"),
            ("Mozilla/5.0 (compatible; Nuclei - Open-source project (github.com/projectdiscovery/nuclei))", "nuclei"),
            ("WPScan v3.8.22 (https://wpscan.com/wordpress-security-scanner)", "wpscan"),
            ("masscan/1.3 (https://github.com/robertdavidgraham/masscan)", "masscan"),
            ("Mozilla/5.0 zgrab/0.x", "zgrab"),
            ("gobuster/3.6", "gobuster"),
            ("Fuzz Faster U Fool v2.1.0", "ffuf"),
            ("Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)", "nmap"),
            ("Mozilla/4.0 (Hydra)", "hydra"),
        ];
        for (ua, tool) in cases {
            assert_eq!(s.detect(ua.as_bytes()), Some(*tool), "{ua}");
        }
    }

    #[test]
    fn browsers_and_api_clients_pass() {
        let s = ScannerUserAgents::new();
        for ua in [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
            "curl/8.5.0",
            "python-requests/2.31.0",
            "Go-http-client/1.1",
            "okhttp/4.12.0",
            "Hydrangea-Health-App/2.0",
        ] {
            assert_eq!(s.detect(ua.as_bytes()), None, "{ua}");
        }
    }
}
