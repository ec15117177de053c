//! Every subcommand's `--help` describes every flag: each long flag in the Options section is
//! followed by a description, not only by its default or possible values.

mod common;
use common::xai;

/// The subcommands listed by `xai --help` (without `help`).
fn subcommands() -> Vec<String> {
    let out = xai(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(String::from)
        .collect()
}

/// (flag line, description) of each option in a long `--help` text.
fn options(help: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in help
        .lines()
        .skip_while(|l| !l.starts_with("Options:"))
        .skip(1)
    {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.starts_with('-') && indent < 8 {
            // Short layout: the description follows the flag after two or more spaces.
            let (flag, desc) = match trimmed.find("  ") {
                Some(i) => (&trimmed[..i], trimmed[i..].trim_start()),
                None => (trimmed, ""),
            };
            out.push((flag.to_string(), format!("{desc} ")));
        } else if let Some(last) = out.last_mut() {
            last.1.push_str(trimmed);
            last.1.push(' ');
        }
    }
    out
}

/// A description with the default and possible-value annotations removed.
fn prose(desc: &str) -> String {
    let mut s = desc.to_string();
    for tag in ["[default: ", "[possible values: "] {
        while let Some(i) = s.find(tag) {
            let j = s[i..].find(']').map_or(s.len(), |j| i + j + 1);
            s.replace_range(i..j, "");
        }
    }
    s.split("Possible values:")
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}

#[test]
fn every_flag_of_every_subcommand_has_a_description() {
    let cmds = subcommands();
    for want in [
        "predict", "explain", "train", "evaluate", "rules", "methods", "demo",
    ] {
        assert!(cmds.iter().any(|c| c == want), "{want} not in {cmds:?}");
    }
    let mut missing = Vec::new();
    for cmd in &cmds {
        let out = xai(&[cmd, "--help"]);
        assert!(out.status.success(), "{cmd} --help");
        let help = String::from_utf8_lossy(&out.stdout);
        let opts = options(&help);
        assert!(
            opts.iter().any(|(f, _)| f.contains("--quiet")),
            "{cmd}: no --quiet"
        );
        for (flag, desc) in opts {
            if flag.contains("--") && prose(&desc).is_empty() {
                missing.push(format!("xai {cmd} {flag}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "flags without a description:\n{}",
        missing.join("\n")
    );
}

#[test]
fn help_parser_sees_a_missing_description() {
    let help = "Options:\n      --epochs <EPOCHS>\n          [default: 10]\n      --lr <LR>\n          Learning rate [default: 0.001]\n";
    let opts = options(help);
    assert_eq!(opts.len(), 2);
    let short =
        options("Options:\n      --seed <SEED>  [default: 0]\n  -h, --help     Print help\n");
    assert_eq!(short[0].0, "--seed <SEED>");
    assert_eq!(prose(&short[0].1), "");
    assert_eq!(prose(&short[1].1), "Print help");
    assert_eq!(prose(&opts[0].1), "");
    assert_eq!(prose(&opts[1].1), "Learning rate");
}

#[test]
fn methods_lists_each_method_with_its_taxonomy_and_needs() {
    let out = xai(&["methods"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert!(
        lines.next().unwrap().starts_with("method"),
        "header expected"
    );
    let mut n = 0;
    let mut flags = 0;
    for line in lines {
        // Each method's flags, with their defaults, on the line under it.
        if line.trim_start().starts_with("flags: ") {
            assert!(line.contains("--"), "{line}");
            flags += 1;
            continue;
        }
        let name = line.split_whitespace().next().unwrap();
        // "KIND / SCOPE / ROLE": the kind may be two words (hidden semantics).
        let rest = line[name.len()..].trim_start();
        let parts: Vec<&str> = rest.splitn(3, " / ").collect();
        assert_eq!(parts.len(), 3, "{line}");
        assert!(
            ["attribution", "hidden semantics", "rules", "examples"].contains(&parts[0]),
            "{line}"
        );
        assert!(
            ["local", "semi-local", "global"].contains(&parts[1]),
            "{line}"
        );
        let mut tail = parts[2].split_whitespace();
        assert!(
            ["passive", "active"].contains(&tail.next().unwrap()),
            "{line}"
        );
        assert!(
            ["forward", "gradients", "layers"].contains(&tail.next().unwrap()),
            "{line}"
        );
        assert!(tail.next().is_some(), "no description: {line}");
        n += 1;
    }
    assert!(n >= 30, "{n} methods");
    assert_eq!(flags, n, "one flags line per method");
    assert!(text.contains(
        "flags: --baseline zeros, --batch-size 256, --integration gauss-legendre, --steps 50"
    ));
    // Grouped: each family's methods are listed together.
    let families: Vec<&str> = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim_start().starts_with("flags: "))
        .map(|l| {
            // Columns are separated by two or more spaces: name, family, needs, description.
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .nth(1)
                .unwrap_or("")
        })
        .collect();
    assert!(
        families.contains(&"attribution / global / passive"),
        "{families:?}"
    );
    let mut seen = Vec::new();
    for pair in families.windows(2) {
        if pair[0] != pair[1] {
            assert!(!seen.contains(&pair[1]), "{} listed apart", pair[1]);
            seen.push(pair[0]);
        }
    }
    let help = xai(&["methods", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("hidden semantics") && help.contains("black box"),
        "{help}"
    );
}
