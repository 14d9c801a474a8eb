//! redash-gitops.yaml: what it sets, and that flags beat environment variables beat the file.

mod common;

use common::World;

/// Runs with no REDASH_* variables but those given.
fn run(w: &World, args: &[&str], env: &[(&str, &str)]) -> common::Run {
    let mut all =
        vec![("REDASH_URL", ""), ("REDASH_API_KEY", ""), ("REDASH_GITOPS_OWNER", ""), ("REDASH_GITOPS_ENV", "")];
    all.retain(|(k, _)| !env.iter().any(|(e, _)| e == k));
    all.extend_from_slice(env);
    w.run_with_env(args, &all)
}

#[test]
fn the_file_gives_url_owner_and_paths() {
    let w = World::with_examples("cfg-file");
    let config = format!("url: {}\nowner: team-file\npaths: [queries, dashboards]\n", w.emu.url);
    w.dir.write("redash-gitops.yaml", &config);
    std::fs::create_dir_all(w.dir.path().join(".git")).unwrap();
    let key = w.key.clone();
    let r = run(&w, &["plan"], &[("REDASH_API_KEY", &key)]);
    r.expect(2)
        .out_has(&format!("Plan for {} (Redash 26.08.0-dev, owner \"team-file\")", w.emu.url))
        .out_has("8 to create");
    // Found from a subdirectory too, with its paths relative to the file.
    let out = w
        .command(&["validate", "--offline"])
        .current_dir(w.dir.path().join("queries"))
        .env("REDASH_URL", "")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("6 queries and 2 dashboards: valid"), "{out:?}");
}

#[test]
fn flags_beat_environment_variables_beat_the_file() {
    let w = World::with_examples("cfg-precedence");
    w.dir.write("redash-gitops.yaml", "url: http://127.0.0.1:9\nowner: from-file\n");
    std::fs::create_dir_all(w.dir.path().join(".git")).unwrap();
    let key = w.key.clone();
    let url = w.emu.url.clone();
    // The file's URL alone: unreachable.
    run(&w, &["plan", "."], &[("REDASH_API_KEY", &key)]).expect(1).err_has("cannot reach Redash at http://127.0.0.1:9");
    // The variable beats the file, for the URL and the owner.
    run(&w, &["plan", "."], &[("REDASH_API_KEY", &key), ("REDASH_URL", &url), ("REDASH_GITOPS_OWNER", "from-env")])
        .expect(2)
        .out_has("owner \"from-env\"");
    // The flag beats the variable.
    run(
        &w,
        &["plan", ".", "--url", &url, "--owner", "from-flag"],
        &[("REDASH_API_KEY", &key), ("REDASH_URL", "http://127.0.0.1:9"), ("REDASH_GITOPS_OWNER", "from-env")],
    )
    .expect(2)
    .out_has("owner \"from-flag\"");
    // Only the file: its owner.
    run(&w, &["plan", ".", "--url", &url], &[("REDASH_API_KEY", &key)]).expect(2).out_has("owner \"from-file\"");
}

#[test]
fn environments_bring_their_url_key_and_data_source_names() {
    let w = World::with_examples("cfg-env");
    let config = format!(
        "url: http://127.0.0.1:9\nenvironments:\n  staging:\n    url: {}\n    owner: staging-team\n    apiKeyEnv: STAGING_REDASH_KEY\n    dataSources:\n      Sample Postgres: Analytics\n",
        w.emu.url
    );
    w.dir.write("redash-gitops.yaml", &config);
    std::fs::create_dir_all(w.dir.path().join(".git")).unwrap();
    let key = w.key.clone();
    let r = run(&w, &["plan", ".", "--env", "staging"], &[("STAGING_REDASH_KEY", &key)]).expect(2);
    r.out_has("owner \"staging-team\"");
    assert!(!r.stdout.contains("dataSource: \"Sample Postgres\""), "mapped to Analytics:\n{}", r.stdout);
    assert!(r.stdout.contains("dataSource: \"Analytics\""));
    run(&w, &["plan", ".", "--env", "production"], &[])
        .expect(1)
        .err_has("--env production: no environment of that name")
        .err_has("it has: staging");
    run(&w, &["plan", ".", "--env", "staging"], &[])
        .expect(1)
        .err_has("STAGING_REDASH_KEY (named by apiKeyEnv) is not set");
    // REDASH_GITOPS_ENV selects the environment too.
    run(&w, &["plan", "."], &[("REDASH_GITOPS_ENV", "staging"), ("STAGING_REDASH_KEY", &key)])
        .expect(2)
        .out_has("owner \"staging-team\"");
}

#[test]
fn prune_from_the_file_can_be_turned_off_by_a_flag() {
    let w = World::with_examples("cfg-prune");
    let key = w.key.clone();
    let url = w.emu.url.clone();
    run(&w, &["sync", "."], &[("REDASH_API_KEY", &key), ("REDASH_URL", &url)]).expect(0);
    std::fs::create_dir_all(w.dir.path().join(".git")).unwrap();
    w.dir.write("redash-gitops.yaml", "prune: true\nmaxArchive: 5\n");
    std::fs::remove_file(w.dir.path().join("dashboards/traffic.yaml")).unwrap();
    let env = [("REDASH_API_KEY", key.as_str()), ("REDASH_URL", url.as_str())];
    run(&w, &["plan", "."], &env).expect(2).out_has("1 to archive");
    run(&w, &["plan", ".", "--no-prune"], &env).expect(0).out_has("archive it with --prune");
}

#[test]
fn a_mistake_in_the_file_names_its_line() {
    let w = World::with_examples("cfg-bad");
    w.dir.write("redash-gitops.yaml", "url: http://x\nconcurency: 4\n");
    std::fs::create_dir_all(w.dir.path().join(".git")).unwrap();
    run(&w, &["plan", "."], &[]).expect(1).err_has("redash-gitops.yaml:2: concurency: unknown field `concurency`");
}
