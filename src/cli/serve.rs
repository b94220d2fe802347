//! `signgate serve`, `check-config` and `healthcheck`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::app::App;
use crate::config::Config;
use crate::service::Service;
use crate::startup::{run_until_stopped, Listeners};

pub fn serve(config: &Path) -> anyhow::Result<ExitCode> {
    let config = Config::load(config)?;
    let _log_guard = crate::telemetry::init(&config.log);
    let now = crate::clock::Clock::System.now();
    for warning in config
        .key_ages
        .iter()
        .filter_map(|age| age.retirement_warning(now))
    {
        tracing::warn!("{warning}");
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if config.server.worker_threads > 0 {
        runtime.worker_threads(config.server.worker_threads);
    }
    runtime.build()?.block_on(async move {
        let listeners = Listeners::bind(&config.server).await?;
        let service = Service::start(&config).await?;
        run_until_stopped(service, listeners).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Everything `serve` checks before it listens: the configuration, its keys and secrets, the
/// parts built from it, and each grant query against its database.
pub fn check_config(path: &Path) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let config = runtime.block_on(async {
        let config = Config::load(path)?;
        let app = App::build(&config, None)
            .map_err(|e| anyhow::anyhow!("configuration {}: {e:#}", path.display()))?;
        for problem in app.check_backends().await? {
            eprintln!("warning: {problem} (signgate would start and fail closed until it answers)");
        }
        let now = crate::clock::Clock::System.now();
        for warning in config
            .key_ages
            .iter()
            .filter_map(|age| age.retirement_warning(now))
        {
            eprintln!("warning: {warning}");
        }
        anyhow::Ok(config)
    })?;
    println!(
        "configuration {} is valid: {} key set(s), {} distribution(s), {} rule(s){}",
        path.display(),
        config.key_sets.len(),
        config.distributions.len(),
        config.rules.len(),
        if config.dev {
            " (dev setup: demo keys and inline secrets allowed)"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}

pub fn healthcheck(url: &str) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ok = runtime.block_on(async {
        let client = crate::tls::client_builder()
            .timeout(Duration::from_secs(3))
            .build()?;
        anyhow::Ok(client.get(url).send().await?.status().is_success())
    })?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
