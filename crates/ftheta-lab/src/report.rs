//! The report folder: `index.html` built from the experiments' sections, `results.json`, and
//! atomic writes (a temporary file renamed into place) so that an interrupted run never leaves a
//! half-written file behind.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

/// A figure written to the report folder as `<stem>.png` and `<stem>.svg`.
#[derive(Clone, Debug)]
pub struct Figure {
    /// The file name without extension.
    pub stem: String,
    /// What it shows, under the image.
    pub caption: String,
}

/// A small table of numbers (already formatted, from the section's results).
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// Column headings.
    pub header: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

/// One experiment's part of the report.
#[derive(Clone, Debug)]
pub struct Section {
    /// The experiment's name (anchor and `results.json` key).
    pub name: &'static str,
    /// The heading.
    pub title: String,
    /// One line for the terminal summary.
    pub headline: String,
    /// Paragraphs of text (may contain inline HTML such as `<code>`).
    pub paragraphs: Vec<String>,
    /// Tables, shown after the paragraphs.
    pub tables: Vec<Table>,
    /// Figures, shown after the tables.
    pub figures: Vec<Figure>,
    /// Extra files the section links to (for example `graph.dot`).
    pub files: Vec<String>,
    /// Every number this section shows; stored under its name in `results.json`.
    pub results: Value,
}

/// Creates the report folder when it is missing. Existing files stay: the lab only ever
/// replaces the files it writes itself.
pub fn prepare_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create the report folder {}", dir.display()))
}

/// A temporary path next to `path` that keeps its extension (image encoders pick the format from
/// it), unique per process so that two runs never write the same temporary file.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{}.tmp-{}.{}", name, std::process::id(), ext(path)))
}

fn ext(path: &Path) -> String {
    path.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_else(|| "tmp".into())
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        // Only our own temporary file is removed, never anything the user had.
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// Moves a finished temporary file into place (for writers that need a path, like the PNG encoder).
pub fn commit_temp(tmp: &Path, path: &Path) -> Result<()> {
    fs::rename(tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const STYLE: &str =
    "body{font-family:sans-serif;max-width:980px;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2.2em}
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.92em;color:#444}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}code{background:#f4f4f4;padding:0 .2em}
nav a{margin-right:.8em}";

/// Writes `index.html` and `results.json` for these sections.
pub fn write_report(dir: &Path, sections: &[Section], results: &Value) -> Result<()> {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str("<title>ftheta lab</title>\n<style>");
    h.push_str(STYLE);
    h.push_str("</style></head><body>\n<h1>ftheta lab</h1>\n");
    let quick = results["config"]["quick"].as_bool().unwrap_or(false);
    h.push_str(&format!(
        "<p>Machine learning is finding a function f<sub>θ</sub> from data: a model, a loss, an optimizer. \
         Each section below runs one idea of the lecture on the built-in deliveries table (or XOR, or a list of \
         first names) and shows what happened. Seed {}{}; every number on this page is also in <a href=\"results.json\">results.json</a>. \
         Each figure is a PNG; click it for the SVG.</p>\n",
        results["config"]["seed"],
        if quick { ", <b>quick run</b> (small data, few updates)" } else { "" }
    ));
    h.push_str("<nav>");
    for s in sections {
        h.push_str(&format!("<a href=\"#{}\">{}</a>", s.name, esc(&s.title)));
    }
    h.push_str("</nav>\n");
    for s in sections {
        h.push_str(&format!("<section id=\"{}\">\n<h2>{}</h2>\n", s.name, esc(&s.title)));
        for p in &s.paragraphs {
            h.push_str(&format!("<p>{p}</p>\n"));
        }
        for t in &s.tables {
            h.push_str("<table>\n<tr>");
            for c in &t.header {
                h.push_str(&format!("<th>{}</th>", esc(c)));
            }
            h.push_str("</tr>\n");
            for r in &t.rows {
                h.push_str("<tr>");
                for c in r {
                    h.push_str(&format!("<td>{}</td>", esc(c)));
                }
                h.push_str("</tr>\n");
            }
            h.push_str("</table>\n");
        }
        for f in &s.figures {
            h.push_str(&format!(
                "<figure><a href=\"{0}.svg\"><img src=\"{0}.png\" alt=\"{1}\"></a><figcaption>{1} \
                 (<a href=\"{0}.png\">PNG</a>, <a href=\"{0}.svg\">SVG</a>)</figcaption></figure>\n",
                esc(&f.stem),
                esc(&f.caption)
            ));
        }
        h.push_str("</section>\n");
    }
    h.push_str("</body></html>\n");
    write_atomic(&dir.join("index.html"), h.as_bytes())?;
    let json = serde_json::to_string_pretty(results)?;
    write_atomic(&dir.join("results.json"), json.as_bytes())
}
