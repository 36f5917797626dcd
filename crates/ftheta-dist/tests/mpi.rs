//! The distributed tests: `examples/data_parallel` run under `mpirun` (Open MPI, shared-memory
//! transport) and compared with one process on the same global batches; a rank killed mid-run;
//! ranks that hold different models; two "hosts" (network namespaces) over TCP.
//!
//! Built only with `--features mpi`; `.ci/dist` runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ftheta_nn::{Activation, Init, ModelSpec, Module};

/// The example's binary, which `cargo test` builds beside the test binaries.
fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap(); // target/<profile>/deps → target/<profile>
    let bin = dir.join("examples").join("data_parallel");
    assert!(bin.exists(), "{} not built (cargo test builds examples)", bin.display());
    bin
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ftheta-dist-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `mpirun -n ranks` on one machine over shared memory (`vader`), as root where CI runs as root.
fn mpirun(ranks: usize) -> Command {
    let mut c = Command::new("mpirun");
    c.args(["-n", &ranks.to_string(), "--oversubscribe", "--bind-to", "none", "--mca", "btl", "self,vader"]);
    c.env("OMPI_ALLOW_RUN_AS_ROOT", "1").env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    c.env("RAYON_NUM_THREADS", "1");
    c
}

fn check(out: Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{what}: {:?}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    stdout
}

/// Trains with the example, alone (`ranks == 0`: no mpirun) or under mpirun, and returns the final
/// weights (rank 0's file).
fn train(ranks: usize, dir: &Path, tag: &str, flags: &[&str]) -> Vec<(String, Vec<f32>)> {
    let file = dir.join(format!("{tag}.safetensors"));
    let mut c = if ranks == 0 { Command::new(example()) } else { mpirun(ranks) };
    if ranks > 0 {
        c.arg(example());
    }
    c.args(flags).arg("--save").arg(&file);
    let stdout = check(c.output().unwrap(), tag);
    assert!(stdout.contains(&format!("{} ranks", ranks.max(1))), "{stdout}");
    weights(&file)
}

fn weights(file: &Path) -> Vec<(String, Vec<f32>)> {
    let model =
        ModelSpec::Mlp { hidden: vec![32, 16], activation: Activation::Relu }.build(10, 3, Init::PyTorch).unwrap();
    model.load_weights(file).unwrap();
    model.named_parameters().into_iter().map(|(n, p)| (n, p.to_vec())).collect()
}

/// Largest |a − b| over largest |b|, per tensor; the worst tensor.
fn relative_difference(a: &[(String, Vec<f32>)], b: &[(String, Vec<f32>)]) -> f64 {
    a.iter()
        .zip(b)
        .map(|((na, a), (nb, b))| {
            assert_eq!(na, nb);
            let diff = a.iter().zip(b).map(|(x, y)| (x - y).abs() as f64).fold(0.0, f64::max);
            let scale = b.iter().map(|y| y.abs() as f64).fold(0.0, f64::max);
            diff / scale
        })
        .fold(0.0, f64::max)
}

const FLAGS: [&str; 6] = ["--updates", "40", "--batch", "25", "--seed", "3"];

#[test]
fn two_and_three_ranks_match_one_process_on_the_same_global_batches() {
    let dir = tmp("match");
    // 600 rows in batches of 25 (shards of 13 and 12, or 9, 8, 8) over 40 updates: two epochs'
    // worth, shuffled. Adam and SGD.
    for opt in ["adam", "sgd"] {
        let flags: Vec<&str> = FLAGS.iter().copied().chain(["--optimizer", opt]).collect();
        let one = train(0, &dir, &format!("one-{opt}"), &flags);
        let start = train(0, &dir, &format!("start-{opt}"), &["--updates", "0", "--seed", "3"]);
        // The updates moved the weights far more than the tolerance, so the comparison means something.
        assert!(relative_difference(&one, &start) > 1e-2, "{opt}: training moved nothing");
        for ranks in [2, 3] {
            let many = train(ranks, &dir, &format!("r{ranks}-{opt}"), &flags);
            let rel = relative_difference(&many, &one);
            assert!(rel <= 1e-5, "{opt}, {ranks} ranks: relative difference {rel:e}");
            eprintln!("{opt}, {ranks} ranks against one process: relative difference {rel:e}");
        }
    }
}

#[test]
fn two_rank_runs_with_one_seed_are_bit_identical() {
    let dir = tmp("repeat");
    let a = train(2, &dir, "a", &FLAGS);
    let b = train(2, &dir, "b", &FLAGS);
    assert_eq!(std::fs::read(dir.join("a.safetensors")).unwrap(), std::fs::read(dir.join("b.safetensors")).unwrap());
    // Another seed gives other weights (the files are not equal by accident).
    let c = train(2, &dir, "c", &["--updates", "40", "--batch", "25", "--seed", "4"]);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn a_killed_rank_stops_the_others_with_a_message() {
    let dir = tmp("kill");
    let mut child = mpirun(2)
        .arg(example())
        .args(["--updates", "100000000", "--batch", "25", "--pid-dir"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid_file = dir.join("rank-1.pid");
    let start = Instant::now();
    while !pid_file.exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "rank 1 never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300)); // well into training
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert!(Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    let killed = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if killed.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("rank 0 still running a minute after rank 1 was killed: a hang");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{status:?}");
    assert!(stderr.contains("rank 1") && stderr.contains("signal 9"), "no clear message: {stderr}");
    // Rank 0 is gone too (mpirun may return before the kernel has reaped it).
    let pid0 = std::fs::read_to_string(dir.join("rank-0.pid")).unwrap();
    let alive = || {
        std::fs::read_to_string(format!("/proc/{pid0}/status"))
            .is_ok_and(|s| !s.lines().any(|l| l.starts_with("State:") && l.contains('Z')))
    };
    let exited = Instant::now();
    while alive() {
        assert!(exited.elapsed() < Duration::from_secs(20), "rank 0 (pid {pid0}) still running after mpirun ended");
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("stopped {:.1} s after the kill; mpirun said:\n{stderr}", killed.elapsed().as_secs_f64());
}

#[test]
fn batch_norm_statistics_stay_equal_on_every_rank() {
    // The example ends with DataParallel::check_in_sync, which fails if any buffer differs: each
    // rank's running statistics come from its own shard until rank 0's are broadcast.
    let dir = tmp("bn");
    let stdout = check(
        mpirun(2)
            .arg(example())
            .args(["--updates", "20", "--batchnorm", "--save"])
            .arg(dir.join("bn.st"))
            .output()
            .unwrap(),
        "batchnorm",
    );
    assert!(stdout.contains("2 ranks"), "{stdout}");
    let ck = ftheta_nn::Checkpoint::load(dir.join("bn.st")).unwrap();
    assert_eq!(ck.get("1.num_batches_tracked").unwrap().to_vec(), vec![20.0], "the batch norm saw 20 batches");
    let mean = ck.get("1.running_mean").unwrap().to_vec();
    assert!(mean.iter().any(|&m| m.abs() > 1e-3), "running statistics moved: {mean:?}");
}

#[test]
fn ranks_with_different_models_refuse_to_train() {
    let out = mpirun(2).arg(example()).args(["--updates", "5", "--mismatch"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("the ranks disagree on the model's parameter names and shapes")
            && stderr.contains("rank 1: 958 values (differs)"),
        "{stderr}"
    );
}

/// Two network namespaces joined by a veth pair: two "hosts" with their own addresses, deleted
/// on drop (which deletes the pair too).
struct TwoHosts {
    ns: [String; 2],
    ip: [String; 2],
    subnet: String,
}

impl TwoHosts {
    fn new() -> Result<Self, String> {
        let id = std::process::id() % 250;
        let ns = [format!("ftd{id}a"), format!("ftd{id}b")];
        let ip = [format!("10.77.{id}.1"), format!("10.77.{id}.2")];
        let hosts = TwoHosts { ns: ns.clone(), ip: ip.clone(), subnet: format!("10.77.{id}.0/24") };
        let (va, vb) = (format!("ftd{id}va"), format!("ftd{id}vb"));
        let steps: Vec<Vec<&str>> = vec![
            vec!["netns", "add", &ns[0]],
            vec!["netns", "add", &ns[1]],
            vec!["link", "add", &va, "type", "veth", "peer", "name", &vb],
            vec!["link", "set", &va, "netns", &ns[0]],
            vec!["link", "set", &vb, "netns", &ns[1]],
        ];
        let a = format!("{}/24", ip[0]);
        let b = format!("{}/24", ip[1]);
        let inside: Vec<Vec<&str>> = vec![
            vec!["-n", &ns[0], "addr", "add", &a, "dev", &va],
            vec!["-n", &ns[1], "addr", "add", &b, "dev", &vb],
            vec!["-n", &ns[0], "link", "set", &va, "up"],
            vec!["-n", &ns[1], "link", "set", &vb, "up"],
            vec!["-n", &ns[0], "link", "set", "lo", "up"],
            vec!["-n", &ns[1], "link", "set", "lo", "up"],
        ];
        for step in steps.iter().chain(&inside) {
            let out = Command::new("ip").args(step).output().map_err(|e| format!("ip: {e}"))?;
            if !out.status.success() {
                return Err(format!("ip {}: {}", step.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
            }
        }
        Ok(hosts)
    }
}

impl Drop for TwoHosts {
    fn drop(&mut self) {
        for ns in &self.ns {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

#[test]
fn two_hosts_over_tcp_match_one_process() {
    let hosts = match TwoHosts::new() {
        Ok(h) => h,
        // CI runs as root with iproute2; elsewhere (no root) the test cannot make its hosts.
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: cannot make two network namespaces ({e}); CI runs this as root");
            return;
        }
        Err(e) => panic!("cannot make two network namespaces: {e}"),
    };
    let dir = tmp("hosts");
    // Open MPI starts its daemon on the other host through "ssh"; this one enters the second
    // namespace instead (with a hostname of its own, as a real second machine has).
    let agent = dir.join("agent.sh");
    std::fs::write(
        &agent,
        format!(
            "#!/bin/sh\nwhile [ $# -gt 0 ]; do case \"$1\" in -*) shift ;; *) break ;; esac; done\n\
             [ \"$1\" = {} ] || {{ echo \"agent: unknown host $1\" >&2; exit 1; }}\nshift\n\
             exec ip netns exec {} unshare --uts sh -c \"hostname ftheta-host-b; $*\"\n",
            hosts.ip[1], hosts.ns[1]
        ),
    )
    .unwrap();
    assert!(Command::new("chmod").arg("+x").arg(&agent).status().unwrap().success());
    let hostfile = dir.join("hostfile");
    std::fs::write(&hostfile, format!("{} slots=1\n{} slots=1\n", hosts.ip[0], hosts.ip[1])).unwrap();
    let file = dir.join("two-hosts.safetensors");
    let out = Command::new("ip")
        .args(["netns", "exec", &hosts.ns[0], "mpirun", "-n", "2", "--hostfile"])
        .arg(&hostfile)
        .args(["--mca", "plm_rsh_agent"])
        .arg(&agent)
        .args(["--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", &hosts.subnet])
        .args(["--mca", "oob_tcp_if_include", &hosts.subnet, "--bind-to", "none", "--map-by", "node"])
        .args(["-x", "RAYON_NUM_THREADS=1"])
        .arg(example())
        .args(FLAGS)
        .arg("--save")
        .arg(&file)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .output()
        .unwrap();
    let stdout = check(out, "two hosts");
    assert!(stdout.contains("2 ranks") && stdout.contains("rank 1 of 2 on ftheta-host-b"), "{stdout}");
    let one = train(0, &dir, "one", &FLAGS);
    let rel = relative_difference(&weights(&file), &one);
    assert!(rel <= 1e-5, "two hosts: relative difference {rel:e}");
    eprintln!("two hosts over TCP against one process: relative difference {rel:e}");
}
