//! `signgate serve`, `check-config` and `healthcheck`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::config::Settings;
use crate::startup::Application;

pub fn serve(config: &Path) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    let _log_guard = crate::telemetry::init(&settings.log);
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if settings.server.worker_threads > 0 {
        runtime.worker_threads(settings.server.worker_threads);
    }
    runtime.build()?.block_on(async move {
        let app = Application::build(settings).await?;
        app.run_until_stopped().await
    })?;
    Ok(ExitCode::SUCCESS)
}

pub fn check_config(config: &Path) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let settings = runtime.block_on(async {
        let settings = Settings::load(config)?;
        for problem in settings.check_backends().await? {
            eprintln!("warning: {problem} (signgate would start and fail closed until it answers)");
        }
        anyhow::Ok(settings)
    })?;
    println!(
        "configuration {} is valid: {} key set(s), {} distribution(s), {} rule(s){}",
        config.display(),
        settings.key_sets.len(),
        settings.distributions.len(),
        settings.rules.rules.len(),
        if settings.dev {
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
        let client = reqwest::Client::builder()
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
