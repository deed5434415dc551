//! `palisade run`: bind the public port, start or find the app, proxy, and shut down cleanly.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use clap::Args;
use palisade_policy::{settings, Policy, Upstream};
use palisade_proxy::app::AppTarget;
use palisade_proxy::inflight::Inflight;
use palisade_proxy::pingora::listeners::TcpSocketOptions;
use palisade_proxy::pingora::server::configuration::ServerConf;
use palisade_proxy::pingora::server::{
    RunArgs as PingoraRunArgs, Server, ShutdownSignal, ShutdownSignalWatch,
};
use palisade_proxy::redirect::RedirectHosts;
use palisade_proxy::service::{PalisadeProxy, ProxySettings};

use crate::supervisor::{self, Ending, ShutdownFlag};
use crate::{check, logging, wiring, EXIT_CONFIG, EXIT_STARTUP};

/// Arguments of `palisade run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Proxy-only mode: forward to an app that is already running at HOST:PORT instead of
    /// starting one (for Dokku, a VM, a container). Same as PALISADE_UPSTREAM.
    #[arg(long, value_name = "HOST:PORT")]
    upstream: Option<String>,
    /// Path of palisade.yml (default: $PALISADE_CONFIG, else ./palisade.yml if present).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// The app's web command (supervisor mode). It runs through `sh -c` with PORT set to the
    /// app's private port. Quote it to let that shell expand $PORT: `-- 'puma -p $PORT'`.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// The settings table, for `palisade run --help`.
pub fn long_help() -> String {
    let mut s = String::from(
        "Supervisor mode: palisade binds the public port ($PALISADE_PUBLIC_PORT, else $PORT) on \
0.0.0.0 and [::], starts COMMAND with PORT set to a private loopback port, holds requests until \
the app accepts connections, and exits with the app's status. If either side dies, the other is \
stopped. SIGTERM/SIGINT: stop accepting, forward the signal to the app, drain, exit.\n\n\
Examples:\n  palisade run -- bundle exec puma -p '$PORT'\n  palisade run --upstream 127.0.0.1:8080\n\n\
Settings (config var / palisade.yml key — default — meaning):\n",
    );
    for st in settings::ALL {
        let key = if st.key.is_empty() { "-" } else { st.key };
        s.push_str(&format!(
            "  {} / {} — {}\n      {}\n",
            st.env, key, st.default, st.meaning
        ));
    }
    s
}

/// Pingora's shutdown hook: SIGTERM and SIGINT both start a graceful shutdown (stop accepting,
/// keep serving in-flight requests); the supervisor forwards the signal, drains and exits.
struct SignalWatch {
    flag: ShutdownFlag,
}

#[async_trait]
impl ShutdownSignalWatch for SignalWatch {
    async fn recv(&self) -> ShutdownSignal {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot install signal handlers; stopping");
            self.flag.trigger(libc::SIGTERM);
            return ShutdownSignal::GracefulTerminate;
        };
        let sig = tokio::select! {
            _ = term.recv() => libc::SIGTERM,
            _ = int.recv() => libc::SIGINT,
        };
        self.flag.trigger(sig);
        ShutdownSignal::GracefulTerminate
    }
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("palisade: {msg}");
    ExitCode::from(code)
}

/// Whether the public port is free on IPv4 and whether IPv6 is available at all.
fn probe_public_port(port: u16) -> Result<bool, String> {
    match TcpListener::bind(("0.0.0.0", port)) {
        Ok(l) => drop(l),
        Err(e) if e.kind() == ErrorKind::AddrInUse => {
            return Err(format!(
                "the public port {port} is already in use, so palisade cannot protect it. Usually the app \
                 bound $PORT itself: the Procfile's shell expanded $PORT before palisade ran. Use the \
                 buildpack (its .profile.d gives the app a private PORT), or quote the variable so \
                 palisade's shell expands it: `web: palisade run -- 'bundle exec puma -p $PORT'`."
            ))
        }
        Err(e) => return Err(format!("cannot bind the public port {port}: {e}")),
    }
    match TcpListener::bind(("::", port)) {
        Ok(l) => {
            drop(l);
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::AddrInUse => Err(format!(
            "the public port {port} is already in use on IPv6 ([::]:{port}); stop whatever holds it"
        )),
        Err(_) => Ok(false),
    }
}

/// Refuses a web command that names the public port: the app would bind it and bypass palisade.
fn command_names_public_port(command: &str, port: u16) -> bool {
    let p = port.to_string();
    command
        .split(|c: char| c.is_whitespace() || c == '=' || c == ':' || c == '"' || c == '\'')
        .any(|tok| tok == p)
}

fn exit_now(code: u8, audit: Option<&palisade_audit::AuditSink>) -> ! {
    use std::io::Write;
    if let Some(sink) = audit {
        sink.flush(Duration::from_secs(2));
    }
    let _ = std::io::stdout().flush();
    std::process::exit(i32::from(code))
}

/// Runs the subcommand.
pub fn run(args: RunArgs) -> ExitCode {
    logging::init();
    let mut policy = match check::load_policy(args.config.clone()) {
        Ok(p) => p,
        Err(e) => return fail(EXIT_CONFIG, format!("configuration refused: {e}")),
    };
    if let Some(up) = &args.upstream {
        match palisade_policy::values::parse_host_port(up) {
            Ok((host, port)) => policy.upstream = Upstream::External { host, port },
            Err(allowed) => {
                return fail(
                    EXIT_CONFIG,
                    format!("--upstream: invalid value {up:?}; allowed: {allowed}"),
                )
            }
        }
    }
    let command = args.command.join(" ");
    if matches!(policy.upstream, Upstream::Child { .. }) && command.trim().is_empty() {
        return fail(
            EXIT_CONFIG,
            "nothing to protect: give the app's web command after `--` (palisade run -- <command>) \
             or an app address with --upstream HOST:PORT",
        );
    }
    let Some(public_port) = policy.public_port else {
        return fail(
            EXIT_CONFIG,
            "PORT is not set: palisade needs the public port to listen on (Heroku sets PORT; \
             locally, run with PORT=5000)",
        );
    };

    if !policy.enabled {
        return run_disabled(&policy, &command, public_port);
    }

    let wiring::Components {
        engine: validated_rules,
        access,
        audit: audit_config,
        headers,
    } = match wiring::build(&policy) {
        Ok(c) => c,
        Err(e) => return fail(EXIT_CONFIG, format!("configuration refused: {e}")),
    };
    // That engine only proved the user's rules compile before anything starts; the engine in
    // force comes from the rules loader below (a signed bundle may replace the embedded rules).
    // A compiled engine holds several MB of automata: do not keep two for the process's life.
    drop(validated_rules);
    // Webhooks need TLS (Slack and most incident tools are https-only): Pingora's BoringSSL.
    let connector = match crate::alert_tls::TlsAlertConnector::new() {
        Ok(c) => c,
        Err(e) => return fail(EXIT_STARTUP, e),
    };
    let connector: Arc<dyn palisade_audit::AlertConnector> = Arc::new(connector);
    let sink_options = palisade_audit::SinkOptions {
        connector: connector.clone(),
        ..Default::default()
    };
    let audit = match palisade_audit::AuditSink::start_with(audit_config.clone(), sink_options) {
        Ok(a) => a,
        Err(e) => {
            return fail(
                EXIT_STARTUP,
                format!("cannot start the audit log writer: {e}"),
            )
        }
    };

    let ipv6 = match probe_public_port(public_port) {
        Ok(v6) => v6,
        Err(msg) => return fail(EXIT_STARTUP, msg),
    };

    let inflight = Inflight::default();
    let shutdown = ShutdownFlag::default();
    let (app, child_port) = match &policy.upstream {
        Upstream::External { host, port } => {
            let addr = match (host.trim_matches(['[', ']']), *port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
            {
                Some(a) => a,
                None => {
                    return fail(
                        EXIT_CONFIG,
                        format!("--upstream: cannot resolve {host}:{port}"),
                    )
                }
            };
            (Arc::new(AppTarget::ready(addr)), None)
        }
        Upstream::Child { port } => {
            if !policy.port_remapped && command_names_public_port(&command, public_port) {
                return fail(
                    EXIT_CONFIG,
                    format!(
                        "the web command names the public port {public_port} (the Procfile's shell expanded \
                         $PORT before palisade ran), so the app would bind it and bypass the firewall. Use \
                         the buildpack's .profile.d (it gives web dynos a private PORT), or quote the \
                         variable: `palisade run -- 'your-server -p $PORT'`."
                    ),
                );
            }
            let app_port = match port {
                Some(p) => *p,
                None => match supervisor::free_loopback_port() {
                    Ok(p) => p,
                    Err(e) => {
                        return fail(
                            EXIT_STARTUP,
                            format!("cannot pick a private port for the app: {e}"),
                        )
                    }
                },
            };
            let addr = SocketAddr::from(([127, 0, 0, 1], app_port));
            (
                Arc::new(AppTarget::booting(addr, policy.boot_timeout)),
                Some(app_port),
            )
        }
    };

    // Pingora sleeps the whole grace period after SIGTERM; the supervisor exits as soon as the
    // drain is done, so this is only the upper bound.
    let conf = ServerConf {
        threads: policy.threads,
        grace_period_seconds: Some(policy.drain_timeout.as_secs() + 2),
        graceful_shutdown_timeout_seconds: Some(1),
        // One single-threaded runtime per thread: a request never hops threads, so no cross-thread
        // wake-ups (measured: +20% requests/s over the work-stealing runtime on small GETs).
        work_stealing: false,
        ..Default::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let settings = ProxySettings {
        keepalive_timeout: policy.keepalive_timeout,
        upstream_connect_timeout: policy.upstream_connect_timeout,
        upstream_read_timeout: policy.upstream_read_timeout,
        behind_heroku_router: policy.dyno.is_some(),
        response_headers: headers,
        mode: policy.mode,
        https_redirect: policy.transport.https_redirect,
        redirect_hosts: RedirectHosts {
            canonical: policy.transport.canonical_host.clone(),
            allowed: policy.transport.allowed_hosts.clone(),
        },
        max_inspect_body: usize::try_from(policy.max_inspect_body).unwrap_or(usize::MAX),
        oversize_body: policy.oversize_body,
        access_log: policy.access_log,
        limits: policy.limits.clone(),
    };
    // Rules in force (embedded floor, boot bundle) and the updater thread (issue #10); every swap
    // or refusal is an audit line.
    let rules_audit = audit.clone();
    let (rules, _rules_updater) = match crate::rules_cmd::start(
        &policy,
        Arc::new(move |e| rules_audit.config_change(crate::rules_cmd::config_change(e))),
        connector,
    ) {
        Ok(r) => r,
        Err(e) => return fail(EXIT_CONFIG, format!("configuration refused: {e}")),
    };
    // The rules in force (not the embedded floor), read once for the startup event and line and
    // copied out: holding the Arc would keep this engine alive after a swap.
    let (rule_count, rules_version, rules_source, rules_engine) = {
        let (engine, info) = rules.current_with_info();
        let origin = info.origin.to_string();
        (
            info.rule_count,
            info.version.clone(),
            origin,
            engine.version().to_string(),
        )
    };
    audit.startup(palisade_audit::StartupEvent {
        time: Some(std::time::SystemTime::now()),
        version: env!("CARGO_PKG_VERSION").to_string(),
        rules_version: rules_engine.clone(),
        policy: check::policy_json(&policy),
        hipaa: wiring::policy_summary(&policy, &audit_config, &rules_engine),
    });
    let proxy = PalisadeProxy::new(
        settings,
        app.clone(),
        inflight.clone(),
        audit.clone(),
        Arc::new(RulesEngine(rules)),
        access,
    );
    // Every HTTP/1 connection's request heads get a total deadline (slow_client.rs); plain
    // bodyless GET/HEAD requests take the HTTP/1 lane (lane/) unless PALISADE_HTTP1_LANE=false,
    // everything else Pingora's proxy.
    let mut service = palisade_proxy::pingora::services::listening::Service::new(
        "Palisade".to_string(),
        palisade_proxy::slow_client::HeadDeadlineApp::new(
            palisade_proxy::lane::H1Lane::new(
                proxy.clone(),
                palisade_proxy::pingora::proxy::http_proxy(&server.configuration, proxy),
                policy.http1_lane,
            ),
            policy.limits.header_timeout,
            audit.clone(),
        ),
    );
    let tls = match palisade_proxy::tls::add_tls_listener(&mut service, policy.tls.as_ref(), ipv6) {
        Ok(t) => t,
        Err(e) => return fail(EXIT_CONFIG, format!("TLS configuration refused: {e}")),
    };
    // With TLS on the public port there is no plain-HTTP listener at all (docs/tls.md).
    if !tls.as_ref().is_some_and(|t| t.replaces_plain()) {
        let mut v4 = TcpSocketOptions::default();
        v4.so_reuseport = Some(false);
        service.add_tcp_with_settings(&format!("0.0.0.0:{public_port}"), v4);
        if ipv6 {
            let mut v6 = TcpSocketOptions::default();
            v6.ipv6_only = Some(true);
            v6.so_reuseport = Some(false);
            service.add_tcp_with_settings(&format!("[::]:{public_port}"), v6);
        }
    }
    server.add_service(service);

    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        public_port,
        ipv6,
        app = %app.addr(),
        mode = ?policy.mode,
        paranoia = policy.paranoia,
        threads = policy.threads,
        http1_lane = policy.http1_lane,
        boot_timeout_s = policy.boot_timeout.as_secs(),
        drain_timeout_s = policy.drain_timeout.as_secs(),
        heroku = policy.dyno.is_some(),
        https_redirect = policy.transport.https_redirect,
        rules = rule_count,
        rules_version,
        rules_source,
        rules_engine,
        config_file = ?policy.config_file,
        "palisade starting"
    );

    let watcher_flag = shutdown.clone();
    let drain = policy.drain_timeout;
    let boot_timeout = policy.boot_timeout;
    // The supervisor thread spawns the app and lives until the process exits (the app's
    // parent-death signal is tied to it).
    let exit_audit = audit.clone();
    let spawn = std::thread::Builder::new()
        .name("palisade-supervisor".into())
        .spawn(move || {
            let code = supervise_thread(
                command,
                child_port,
                public_port,
                &app,
                boot_timeout,
                &shutdown,
                &inflight,
                drain,
            );
            exit_now(code, Some(&exit_audit))
        });
    if let Err(e) = spawn {
        return fail(
            EXIT_STARTUP,
            format!("cannot start the supervisor thread: {e}"),
        );
    }
    crate::allocator::release_freed_memory();
    server.run(PingoraRunArgs {
        shutdown_signal: Box::new(SignalWatch { flag: watcher_flag }),
    });
    // Reached only if Pingora finished before the supervisor decided (it normally exits first).
    ExitCode::SUCCESS
}

#[allow(clippy::too_many_arguments)]
fn supervise_thread(
    command: String,
    child_port: Option<u16>,
    public_port: u16,
    app: &AppTarget,
    boot_timeout: Duration,
    shutdown: &ShutdownFlag,
    inflight: &Inflight,
    drain: Duration,
) -> u8 {
    // Wait until Pingora listens on the public port before starting anything behind it. A
    // SIGTERM can arrive before this thread ever sees the port open (Pingora closes its
    // listeners at once), so the wait also ends on shutdown.
    let started = Instant::now();
    while let Err(e) = TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], public_port)),
        Duration::from_millis(200),
    ) {
        if shutdown.signal().is_some() {
            if child_port.is_some() {
                tracing::info!("shutdown requested before the app was started; exiting");
            }
            // Proxy-only mode drains below; a child was never started, so nothing is in flight
            // but requests held for boot, which the drain covers too.
            break;
        }
        if started.elapsed() > Duration::from_secs(10) {
            tracing::error!(public_port, error = %e, "the proxy did not start listening; stopping");
            return EXIT_STARTUP;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if child_port.is_some() && shutdown.signal().is_some() {
        return 0;
    }
    let Some(app_port) = child_port else {
        // Proxy-only mode: nothing to supervise but the drain.
        while shutdown.signal().is_none() {
            std::thread::sleep(Duration::from_millis(20));
        }
        let deadline = Instant::now() + drain;
        while inflight.current() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::info!("drained; exiting");
        return 0;
    };
    let child = match supervisor::spawn_app(&command, app_port) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, command = %command, "cannot start the app");
            return EXIT_STARTUP;
        }
    };
    tracing::info!(pid = child.id(), app_port, command = %command, "started the app");
    match supervisor::supervise(
        child,
        app_port,
        app,
        boot_timeout,
        shutdown,
        inflight,
        drain,
    ) {
        Ending::AppExited(status) => {
            let code = supervisor::exit_code_of(status);
            if app.is_ready() {
                tracing::error!(
                    status = code,
                    "the app exited; stopping palisade (the dyno must not run half-protected)"
                );
            } else {
                tracing::error!(
                    status = code,
                    app_port,
                    public_port,
                    "the app exited while booting. If its log says the address is in use, it tried to bind the \
                     public port: start it with the PORT palisade gives it (the buildpack's .profile.d, or quote \
                     '$PORT' in the Procfile)"
                );
            }
            code.max(1)
        }
        Ending::BootTimeout => {
            // Requests held during boot are being answered 503 right now; let them go out.
            let deadline = Instant::now() + Duration::from_secs(2);
            while inflight.current() > 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            tracing::error!(
                app_port,
                boot_timeout_s = boot_timeout.as_secs(),
                "the app did not accept connections on its PORT within the boot timeout; stopping. Check that it \
                 listens on $PORT (palisade sets PORT for it), or raise PALISADE_BOOT_TIMEOUT"
            );
            EXIT_STARTUP
        }
        Ending::Shutdown(status) => {
            tracing::info!(app_status = ?status.map(supervisor::exit_code_of), "stopped");
            status.map_or(0, supervisor::exit_code_of)
        }
    }
}

/// The rules handle as the proxy's engine source: each request takes the engine in force when
/// it starts and keeps it to the end, so a swap never changes a request half-way.
struct RulesEngine(palisade_rules::RulesHandle);

impl palisade_proxy::service::EngineSource for RulesEngine {
    fn current(&self) -> Arc<palisade_engine::Engine> {
        self.0.current()
    }
}

/// The kill switch: run the app directly on the public port, unprotected, and say so loudly.
fn run_disabled(policy: &Policy, command: &str, public_port: u16) -> ExitCode {
    tracing::warn!(
        "PALISADE IS DISABLED (PALISADE_ENABLED=false): the app is serving on port {public_port} WITHOUT the \
         firewall, HTTPS enforcement or audit logging. Unset PALISADE_ENABLED to restore protection."
    );
    eprintln!(
        "palisade: WARNING: PALISADE_ENABLED=false — the app runs UNPROTECTED on port {public_port}"
    );
    if !matches!(policy.upstream, Upstream::Child { .. }) {
        return fail(
            EXIT_CONFIG,
            "PALISADE_ENABLED=false with --upstream: there is nothing to run directly; remove palisade \
             from the path instead",
        );
    }
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(supervisor::exec_form(command))
        .env("PORT", public_port.to_string())
        .exec();
    fail(EXIT_STARTUP, format!("cannot start the app: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_port_in_command_is_detected() {
        assert!(command_names_public_port("puma -p 5000", 5000));
        assert!(command_names_public_port(
            "gunicorn -b 0.0.0.0:5000 app",
            5000
        ));
        assert!(command_names_public_port("server --port=5000", 5000));
        assert!(!command_names_public_port("puma -p 50001", 5000));
        assert!(!command_names_public_port("puma -p $PORT", 5000));
    }
}
