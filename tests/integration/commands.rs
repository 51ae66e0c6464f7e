//! Commands as data: by name, from a model's `events` section or sent live between steps, at
//! an exact time; the same model gives the same report whichever way they arrive.

use flashcrowd::engine::{SimTime, StepOutcome};
use flashcrowd::metrics::{Report, SeriesPoint};
use flashcrowd::simulation::{CommandRefused, RunOptions, Simulation};
use flashcrowd::topology::events::Command;

use crate::common::{errors_of, load};

const MODEL: &str = r#"Topology(duration: "20s", warmup: "0s",
    workloads: {"users": Open(rate: "400/s", to: "lb")},
    components: {
        "lb": LoadBalancer(backends: ["web"]),
        "web": Service(replicas: 2, threads: 8, cpu: Exp(mean: "2ms")),
    })"#;

fn kill(component: &str, instance: Option<u32>) -> Command {
    Command::Kill {
        component: component.into(),
        instance,
    }
}

fn revive(component: &str, instance: Option<u32>) -> Command {
    Command::Revive {
        component: component.into(),
        instance,
    }
}

fn with_series() -> RunOptions {
    RunOptions {
        series: true,
        ..Default::default()
    }
}

/// A report's JSON without the one key that differs between identical runs.
fn json(r: &Report) -> String {
    let mut v = serde_json::to_value(r).unwrap();
    v.as_object_mut().unwrap().remove("wall_s");
    v.to_string()
}

#[test]
fn killing_an_instance_fails_its_work_and_revive_restores_it() {
    let topo = load(MODEL);
    let mut sim = Simulation::new(&topo, RunOptions::default());
    assert_eq!(
        sim.step(SimTime::from_secs_f64(5.0), u64::MAX),
        StepOutcome::TimeLimit
    );
    sim.command(&kill("web", Some(1))).unwrap();
    sim.step(SimTime::from_secs_f64(10.0), u64::MAX);
    sim.command(&revive("web", Some(1))).unwrap();
    while sim.step(SimTime::MAX, 10_000) != StepOutcome::Idle {}
    let r = sim.finish();
    let down = errors_of(&r, "instance_down");
    // Round robin sends every other request to instance 1 for the 5 s it is down: 1000
    // expected, binomial-Poisson sd ≈ 32.
    assert!((870..1130).contains(&down), "instance_down errors: {down}");
    assert_eq!(r.end_to_end.errors, down);
    assert_eq!(r.events_applied.len(), 2);
    // The series tick at 5 s had run when the step stopped there: the kill belongs to the
    // next instant.
    assert_eq!(r.events_applied[0].at_ns, 5_000_000_001);
    assert_eq!(r.events_applied[0].command, kill("web", Some(1)));
}

#[test]
fn commands_that_do_not_fit_the_model_are_refused_with_a_reason() {
    let topo = load(MODEL);
    let mut sim = Simulation::new(&topo, RunOptions::default());
    let refused = |r: Result<(), CommandRefused>| match r {
        Err(CommandRefused::Invalid(why)) => why.message,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert!(refused(sim.command(&kill("users", None))).contains("is a workload"));
    assert!(refused(sim.command(&kill("wbe", None))).contains("no component named `wbe`"));
    assert!(refused(sim.command(&kill("web", Some(2)))).contains("no instance 2"));
    let replicas_of_lb = Command::Replicas {
        component: "lb".into(),
        count: 3,
    };
    assert!(refused(sim.command(&replicas_of_lb)).contains("cannot change"));
    let not_live = Command::Set {
        path: "components.web.threads".into(),
        value: "16".into(),
    };
    assert!(refused(sim.command(&not_live)).contains("cannot change while"));
    let run = sim.run();
    assert!(run.events_applied.is_empty());
}

/// (start of the window, errors in it) of a series.
fn errors_by_window(points: &[SeriesPoint]) -> Vec<(f64, u64)> {
    points.iter().map(|p| (p.t_s, p.errors)).collect()
}

const TIMED: &str = r#"Topology(duration: "120s", warmup: "0s", seed: 9,
    workloads: {"users": Open(rate: "300/s", to: "lb")},
    components: {
        "lb": LoadBalancer(backends: ["web"], overhead: Const("0s")),
        "web": Service(replicas: 2, threads: 4, cpus: 1, cpu: Exp(mean: "2ms")),
    },
    events: [
        ("30s", Kill(component: "web", instance: 1)),
        ("45s", Revive(component: "web", instance: 1)),
        ("60s", Traffic(scale: 3.0)),
        ("90s", Replicas(component: "web", count: 4)),
    ])"#;

#[test]
fn scheduled_events_land_at_their_exact_time() {
    let topo = load(TIMED);
    let r = Simulation::new(&topo, with_series()).run();
    let web = &r.series["web"];
    // instance_down errors only while instance 1 is down, [30 s, 45 s).
    for (t, errors) in errors_by_window(web) {
        if !(30.0..45.0).contains(&t) {
            assert_eq!(errors, 0, "errors in the window at {t} s");
        } else {
            // Half of 300/s goes to the dead instance: 150 per 1 s window (Poisson sd 12).
            assert!((100..200).contains(&errors), "{errors} errors at {t} s");
        }
    }
    assert_eq!(errors_of(&r, "instance_down"), r.end_to_end.errors);
    // Throughput triples from 60 s: 300/s before, 900/s after (sd ≈ 17 and 30 per window).
    let users = &r.series["users"];
    let mean = |from: f64, to: f64| {
        let w: Vec<&SeriesPoint> = users
            .iter()
            .filter(|p| p.t_s >= from && p.t_s + p.window_s <= to)
            .collect();
        w.iter().map(|p| p.throughput_per_s).sum::<f64>() / w.len() as f64
    };
    let before = mean(46.0, 60.0);
    let after = mean(61.0, 90.0);
    assert!(
        (before - 300.0).abs() < 4.0 * (300.0f64 / 14.0).sqrt(),
        "before {before}"
    );
    assert!(
        (after - 900.0).abs() < 4.0 * (900.0f64 / 29.0).sqrt(),
        "after {after}"
    );
    // The balancer's offered load (arrivals, failed or not) triples too, and the web tier
    // takes all of it while an instance is down (its errors are arrivals as well).
    let lb = &r.series["lb"];
    let arrivals = |series: &[SeriesPoint], from: f64, to: f64| {
        let w: Vec<&SeriesPoint> = series
            .iter()
            .filter(|p| p.t_s >= from && p.t_s + p.window_s <= to)
            .collect();
        w.iter().map(|p| p.arrivals_per_s).sum::<f64>() / w.len() as f64
    };
    for (series, from, to, rate) in [
        (lb, 0.0, 60.0, 300.0),
        (lb, 60.0, 120.0, 900.0),
        (web, 30.0, 45.0, 300.0),
    ] {
        let windows = to - from;
        let got = arrivals(series, from, to);
        assert!(
            (got - rate).abs() < 4.0 * (rate / windows).sqrt(),
            "arrivals {got}/s in [{from}, {to}) s, expected {rate}/s"
        );
    }
    // Four instances from 90 s: CPU utilization falls from 900/s × 2 ms / 2 = 0.9 to 0.45.
    let util = |from: f64, to: f64| {
        let w: Vec<&SeriesPoint> = web
            .iter()
            .filter(|p| p.t_s >= from && p.t_s + p.window_s <= to)
            .collect();
        w.iter()
            .map(|p| p.figure("cpu_utilization").unwrap())
            .sum::<f64>()
            / w.len() as f64
    };
    // The report counts the instances the run ended with, as its per-instance figures do.
    assert_eq!(r.components["web"].replicas, 4);
    assert_eq!(
        r.components["web"].figures["per_replica"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let two = util(70.0, 90.0);
    let four = util(95.0, 120.0);
    assert!((two - 0.9).abs() < 0.05, "two instances busy {two}");
    assert!((four - 0.45).abs() < 0.03, "four instances busy {four}");
    // The applied events are reported in order, at their times.
    let at: Vec<u64> = r.events_applied.iter().map(|e| e.at_ns).collect();
    assert_eq!(at, [30, 45, 60, 90].map(|s| s * 1_000_000_000u64).to_vec());
    assert!(r.events_applied.iter().all(|e| e.refused.is_none()));
}

#[test]
fn the_same_model_gives_the_same_report_straight_stepped_or_replayed_from_live_commands() {
    let topo = load(TIMED);
    let straight = json(&Simulation::new(&topo, with_series()).run());
    for budget in [1, 7, 1000] {
        let mut sim = Simulation::new(&topo, with_series());
        while sim.step(SimTime::MAX, budget) != StepOutcome::Idle {}
        assert_eq!(json(&sim.finish()), straight, "stepped by {budget}");
    }
    // The same commands sent live, between steps of odd sizes and at odd instants, then
    // replayed from what the run recorded: the replay equals the live run.
    let mut spec = topo.spec.clone();
    spec.events.clear();
    let plain = load(&flashcrowd::topology::to_ron(&spec).unwrap());
    assert!(plain.events.is_empty());
    let mut live = Simulation::new(&plain, with_series());
    let script = [
        (12.345_678_9, kill("web", Some(0))),
        (
            12.345_678_9,
            Command::Traffic {
                scale: 1.5,
                workload: Some("users".into()),
            },
        ),
        (33.3, revive("web", Some(0))),
        (
            50.0,
            Command::Replicas {
                component: "web".into(),
                count: 3,
            },
        ),
        (
            80.0,
            Command::Set {
                path: "components.web.replicas".into(),
                value: "1".into(),
            },
        ),
        (
            80.0,
            Command::Set {
                path: "workloads.users.rate".into(),
                value: "\"200/s\"".into(),
            },
        ),
    ];
    for (t, cmd) in &script {
        while live.now() < SimTime::from_secs_f64(*t) {
            if live.step(SimTime::from_secs_f64(*t), 333) == StepOutcome::Idle {
                break;
            }
        }
        live.command(cmd).unwrap();
    }
    while live.step(SimTime::MAX, 5_000) != StepOutcome::Idle {}
    let live = live.finish();
    assert_eq!(live.events_applied.len(), script.len());
    let mut replay_spec = plain.spec.clone();
    replay_spec.events = live
        .events_applied
        .iter()
        .map(|e| {
            (
                flashcrowd::units::Duration::from_nanos(e.at_ns),
                e.command.clone(),
            )
        })
        .collect();
    let text = flashcrowd::topology::to_ron(&replay_spec).unwrap();
    let replay = load(&text);
    let replayed = Simulation::new(&replay, with_series()).run();
    assert_eq!(json(&replayed), json(&live));
}

#[test]
fn traffic_scale_changes_the_rate_at_once() {
    let topo = load(MODEL);
    let mut sim = Simulation::new(&topo, with_series());
    sim.step(SimTime::from_secs_f64(10.0), u64::MAX);
    sim.command(&Command::Traffic {
        scale: 2.0,
        workload: Some("users".into()),
    })
    .unwrap();
    while sim.step(SimTime::MAX, u64::MAX) != StepOutcome::Idle {}
    let r = sim.finish();
    // 10 s at 400/s and 10 s at 800/s: 12 000 expected, Poisson sd ≈ 110.
    let n = r.end_to_end.offered as f64;
    assert!((n - 12_000.0).abs() < 4.0 * 12_000f64.sqrt(), "offered {n}");
    // At once: the first whole window after the change already runs at 800/s (sd ≈ 28).
    let first_after = r.series["users"]
        .iter()
        .find(|p| p.t_s >= 10.0)
        .unwrap()
        .throughput_per_s;
    assert!(
        (first_after - 800.0).abs() < 4.0 * 800f64.sqrt(),
        "{first_after}"
    );
    let last_before = r.series["users"]
        .iter()
        .rfind(|p| p.t_s + p.window_s <= 10.0)
        .unwrap()
        .throughput_per_s;
    assert!(
        (last_before - 400.0).abs() < 4.0 * 400f64.sqrt(),
        "{last_before}"
    );
}

#[test]
fn stepping_by_budget_matches_running_through() {
    let topo = load(MODEL);
    let whole = Simulation::new(&topo, RunOptions::default()).run();
    let mut sim = Simulation::new(&topo, RunOptions::default());
    let mut calls = 0;
    while sim.step(SimTime::MAX, 997) != StepOutcome::Idle {
        calls += 1;
    }
    let stepped = sim.finish();
    assert!(calls > 10);
    assert_eq!(json(&whole), json(&stepped));
}

/// The traffic multiplier scales a shaped profile's absolute rates too: a step from 200/s to
/// 600/s at 10 s, doubled from the start, offers 2 × (10 s × 200 + 10 s × 600) = 16 000.
#[test]
fn traffic_scale_multiplies_a_shaped_profile() {
    let topo = load(
        r#"Topology(duration: "20s", warmup: "0s",
            workloads: {"users": Open(rate: "200/s", to: "s", profile: Step(at: "10s", to: "600/s"))},
            components: {"s": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("1ms"))},
            events: [("0s", Traffic(scale: 2.0))])"#,
    );
    let n = Simulation::new(&topo, RunOptions::default())
        .run()
        .end_to_end
        .offered as f64;
    // Poisson: sd = √16 000 ≈ 126.
    assert!((n - 16_000.0).abs() < 4.0 * 16_000f64.sqrt(), "offered {n}");
}

#[test]
fn added_latency_delays_answers_only_while_it_lasts() {
    let topo = load(
        r#"Topology(duration: "30s", warmup: "0s",
            workloads: {"users": Open(rate: "100/s", to: "s")},
            components: {"s": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("1ms"))},
            events: [("10s", AddLatency(component: "s", latency: "50ms", lasting: "10s"))])"#,
    );
    let r = Simulation::new(&topo, with_series()).run();
    for p in &r.series["users"] {
        let expected = if (10.0..20.0).contains(&p.t_s) {
            0.051
        } else if p.t_s + p.window_s <= 10.0 || p.t_s >= 20.1 {
            0.001
        } else {
            continue;
        };
        // Every request takes the same time: the window's median is it (3 % buckets).
        assert!(
            (p.p50_s - expected).abs() <= expected * 0.04,
            "window at {} s: p50 {} s, expected {expected}",
            p.t_s,
            p.p50_s
        );
    }
}

#[test]
fn fail_fraction_fails_that_share_with_injected_and_stops_when_it_ends() {
    let topo = load(
        r#"Topology(duration: "40s", warmup: "0s", seed: 4,
            workloads: {"users": Open(rate: "500/s", to: "s")},
            components: {"s": Service(threads: "unlimited", cpus: "unlimited", cpu: Exp(mean: "1ms"))},
            events: [("10s", FailFraction(component: "s", fraction: 0.2, lasting: "20s"))])"#,
    );
    let r = Simulation::new(&topo, with_series()).run();
    let injected = errors_of(&r, "injected");
    assert_eq!(injected, r.end_to_end.errors);
    // 20 s × 500/s × 0.2 = 2000, binomial sd ≈ 40.
    assert!((injected as f64 - 2000.0).abs() < 4.0 * 40.0, "{injected}");
    for p in &r.series["s"] {
        if p.t_s + p.window_s <= 10.0 || p.t_s >= 30.0 {
            assert_eq!(p.errors, 0, "errors at {} s", p.t_s);
        }
    }
}

#[test]
fn a_balancer_follows_its_backend_when_it_scales_out_and_in() {
    let topo = load(
        r#"Topology(duration: "60s", warmup: "0s", seed: 8,
            workloads: {"users": Open(rate: "400/s", to: "lb")},
            components: {
                "lb": LoadBalancer(backends: ["web"], policy: LeastConn, overhead: Const("0s")),
                "web": Service(replicas: 2, threads: 4, cpus: 1, cpu: Exp(mean: "3ms")),
            },
            events: [
                ("20s", Replicas(component: "web", count: 4)),
                ("40s", Replicas(component: "web", count: 1)),
            ])"#,
    );
    let r = Simulation::new(&topo, with_series()).run();
    assert_eq!(r.end_to_end.errors, 0, "{:?}", r.end_to_end.errors_by_cause);
    assert_eq!(r.end_to_end.censored, 0);
    let util = |from: f64, to: f64| {
        let w: Vec<&SeriesPoint> = r.series["web"]
            .iter()
            .filter(|p| p.t_s >= from && p.t_s + p.window_s <= to)
            .collect();
        w.iter()
            .map(|p| p.figure("cpu_utilization").unwrap())
            .sum::<f64>()
            / w.len() as f64
    };
    // 400/s × 3 ms = 1.2 CPUs busy, over 2, 4 and 1 CPUs.
    assert!((util(5.0, 20.0) - 0.6).abs() < 0.05, "{}", util(5.0, 20.0));
    assert!(
        (util(25.0, 40.0) - 0.3).abs() < 0.03,
        "{}",
        util(25.0, 40.0)
    );
    // One instance at ρ = 1.2 is overloaded: saturated.
    assert!(util(45.0, 60.0) > 0.97, "{}", util(45.0, 60.0));
}

#[test]
fn an_async_service_scaled_in_and_out_again_finishes_every_call_it_held() {
    // Async servers hold no thread while their calls are out: an instance scaled in then
    // back out keeps those calls, and their answers still reach it.
    let topo = load(
        r#"Topology(duration: "3s", warmup: "0s", seed: 2,
            workloads: {"users": Open(rate: "300/s", to: "web")},
            components: {
                "web": Service(replicas: 2, server: Async, threads: 4, cpu: Exp(mean: "1ms"), calls: [Call(to: "db")]),
                "db": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("200ms")),
            },
            events: [
                ("1s", Replicas(component: "web", count: 1)),
                ("1.05s", Replicas(component: "web", count: 2)),
            ])"#,
    );
    let mut sim = Simulation::new(&topo, RunOptions::default());
    while sim.step(SimTime::MAX, 500) != StepOutcome::Idle {
        if let Err(e) = sim.check_invariants() {
            panic!("{e}");
        }
    }
    let r = sim.finish();
    assert_eq!(r.end_to_end.censored, 0, "{:?}", r.end_to_end);
    assert_eq!(r.end_to_end.errors, 0);
    assert_eq!(r.end_to_end.completed, r.end_to_end.offered);
}

/// A balancer over two instances that marks instance 1 down from 20 s to 40 s, then every
/// backend down from 50 s to 55 s.
const MARKED: &str = r#"Topology(duration: "60s", warmup: "0s", seed: 4,
    workloads: {"users": Open(rate: "400/s", to: "lb")},
    components: {
        "lb": LoadBalancer(backends: ["web"], overhead: Const("0s")),
        "web": Service(replicas: 2, threads: 8, cpus: 1, cpu: Exp(mean: "1ms")),
    },
    events: [
        ("20s", Do(component: "lb", command: "backend_down", args: {"backend": "web", "instance": 1})),
        ("40s", Do(component: "lb", command: "backend_up", args: {"backend": "web", "instance": 1})),
        ("50s", Do(component: "lb", command: "backend_down", args: {"backend": "web"})),
        ("55s", Do(component: "lb", command: "backend_up", args: {"backend": "web"})),
    ])"#;

#[test]
fn a_backend_marked_down_gets_no_new_requests_and_all_down_fails_with_no_live_upstreams() {
    let r = Simulation::new(&load(MARKED), with_series()).run();
    let web = &r.series["web"];
    let lb = &r.series["lb"];
    let per = r.components["web"].figures["per_replica"]
        .as_array()
        .unwrap();
    let arrivals = |i: usize| per[i]["arrivals"].as_u64().unwrap() as f64;
    // Round robin alternates exactly while both are up, so instance 1 gets half of what
    // reaches the web tier outside [20, 40) s and [50, 55) s: 35 s of 400/s (Poisson sd of
    // the total ≈ 118, halved).
    let expected = 0.5 * 400.0 * 35.0;
    assert!(
        (arrivals(1) - expected).abs() < 4.0 * 0.5 * (400.0f64 * 35.0).sqrt(),
        "instance 1 got {} arrivals, expected {expected}",
        arrivals(1)
    );
    // Nothing fails while one instance is marked down: the other takes everything.
    let errors_in = |series: &[SeriesPoint], from: f64, to: f64| -> u64 {
        series
            .iter()
            .filter(|p| p.t_s >= from && p.t_s + p.window_s <= to)
            .map(|p| p.errors)
            .sum()
    };
    assert_eq!(errors_in(web, 0.0, 60.0), 0);
    assert_eq!(errors_in(lb, 0.0, 50.0), 0);
    // With every backend down, the balancer fails each request at once (about 2000).
    let down = errors_in(lb, 50.0, 55.0);
    assert!(
        (down as f64 - 2000.0).abs() < 4.0 * 2000.0f64.sqrt(),
        "{down} failures"
    );
    assert_eq!(errors_of(&r, "no_live_upstreams"), down);
    assert_eq!(r.end_to_end.errors, down);
    assert_eq!(errors_in(lb, 56.0, 60.0), 0);
    assert!(r.events_applied.iter().all(|e| e.refused.is_none()));
}

#[test]
fn a_kinds_own_command_sent_live_is_resolved_like_one_in_the_file() {
    let topo = load(MARKED);
    let mut sim = Simulation::new(&topo, RunOptions::default());
    let bad = Command::Do {
        component: "users".into(),
        command: "backend_down".into(),
        args: Default::default(),
    };
    assert!(sim.command(&bad).is_err(), "a workload takes no Do");
    let wrong = Command::Do {
        component: "web".into(),
        command: "flush".into(),
        args: Default::default(),
    };
    let err = sim.command(&wrong).unwrap_err();
    assert!(
        format!("{err:?}").contains("a service has no command `flush`"),
        "{err:?}"
    );
}
