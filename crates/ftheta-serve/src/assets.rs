//! The pages and their scripts and styles, compiled into the binary so that `ftheta serve` works
//! from any folder with no network and no build step.

/// `(name, content type, bytes)` of every asset served under `/assets/`.
const ASSETS: &[(&str, &str, &str)] = &[
    ("style.css", "text/css; charset=utf-8", include_str!("../assets/style.css")),
    ("chart.js", "text/javascript; charset=utf-8", include_str!("../assets/chart.js")),
    ("runs.js", "text/javascript; charset=utf-8", include_str!("../assets/runs.js")),
    ("run.js", "text/javascript; charset=utf-8", include_str!("../assets/run.js")),
    ("playground.js", "text/javascript; charset=utf-8", include_str!("../assets/playground.js")),
];

/// The runs page (`/`).
pub const RUNS_PAGE: &str = include_str!("../assets/runs.html");
/// A run's page (`/run?id=ID`).
pub const RUN_PAGE: &str = include_str!("../assets/run.html");
/// The playground (`/playground`).
pub const PLAYGROUND_PAGE: &str = include_str!("../assets/playground.html");

/// The asset called `name` and its content type; only names in the table exist, so no request
/// can reach the file system through `/assets/`.
pub fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    ASSETS.iter().find(|(n, _, _)| *n == name).map(|&(_, t, body)| (t, body))
}
