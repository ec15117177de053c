//! `xai explain`: attributions from any registered method.

use super::{load_model, read_input, with_flag_names, CliResult};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;
use xai_nn::Layered;
use xai_passive::methods::Baseline;
use xai_passive::registry::OutputKind;
use xai_passive::report::{ExplanationReport, Timings};
use xai_passive::{registry, Explanation, Output, Params, Target};
use xai_tensor::Tensor;

/// Arguments of `xai explain`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub device: super::DeviceArgs,
    /// Model JSON (with its safetensors weights beside it).
    #[arg(long)]
    pub model: PathBuf,
    /// Input batch, .npy (f32 or f64) of shape [N, ...input_shape] or one example.
    #[arg(long)]
    pub input: PathBuf,
    /// Explanation method (see `xai methods`).
    #[arg(long, default_value = "saliency")]
    pub method: String,
    /// Class to explain: `argmax` (the prediction) or a class index.
    #[arg(long, default_value = "argmax")]
    pub target: Target,
    /// Absolute value of the attribution (saliency).
    #[arg(long)]
    pub abs: bool,
    /// Saliency of images as Simonyan et al.: max over channels of |gradient| (broadcast over
    /// the channels, so the output keeps the input's shape).
    #[arg(long)]
    pub channel_max: bool,
    /// Examples per model call (chunks run in parallel; default 256).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: Option<u64>,
    /// Where to write the attributions (f32 .npy, the input's shape; required), or with
    /// --format json the JSON report (`-`: standard output); pdp/ice write their JSON here
    /// (default: standard output).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Output format: `npy` (attribution maps alone; the default for maps), `json` (the
    /// explanation of any kind in the report envelope: method, parameters, input shape, model
    /// SHA-256, timings, version, then its kind and fields; the default for the other kinds)
    /// or `text` (a plain rendering).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Accept NaN or infinite inputs (refused by default).
    #[arg(long)]
    pub allow_nan: bool,
    /// Also write one heatmap PNG per example into this folder (image inputs): a diverging
    /// colormap for signed attributions, a sequential one with --abs, over the input in grey.
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// LRP, deep Taylor and DeepLIFT flags (boxed: they are many).
    #[command(flatten)]
    pub rules: Box<RuleArgs>,
    /// Baseline of path methods (integrated gradients, layer/neuron variants) and of the
    /// perturbation methods (the value a removed feature takes): `zeros`,
    /// `constant:V`, `mean` (per-feature mean of the input batch) or a .npy file holding one
    /// baseline [...input_shape] or one per example [N, ...input_shape] (default zeros).
    #[arg(long)]
    pub baseline: Option<String>,
    /// Quadrature of path methods: gauss-legendre (default) | riemann-left | riemann-right |
    /// riemann-middle | riemann-trapezoid (Captum's nodes and weights).
    #[arg(long)]
    pub integration: Option<String>,
    /// Integration steps of path methods (at least 1; 2 for riemann-trapezoid; default 50).
    #[arg(long, allow_negative_numbers = true)]
    pub steps: Option<i64>,
    /// Samples per input: noisy samples (smoothgrad family, gradient-shap; default 50),
    /// coalitions (kernel-shap; default 2d + 2048, d features or groups), permutations (shapley-sampling; default 100),
    /// perturbations (lime; default 5000).
    #[arg(long, allow_negative_numbers = true)]
    pub samples: Option<i64>,
    /// Noise standard deviation relative to each example's range max x − min x
    /// (default 0.15 for the smoothgrad family, 0 for gradient-shap and
    /// meaningful-perturbation, where it is added to the perturbed input at every step).
    #[arg(long, allow_negative_numbers = true)]
    pub noise_std: Option<f64>,
    /// Seed of the random methods (same seed, same result; default 0).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Layer (its name in model.json) of layer methods and grad-cam/cam (default for
    /// grad-cam/cam: the last layer with a [C, H, W] output).
    #[arg(long)]
    pub layer: Option<String>,
    /// Hidden unit of neuron methods: LAYER:INDEX, a flat index into one example's layer
    /// output.
    #[arg(long)]
    pub neuron: Option<String>,
    /// grad-cam/cam: keep the layer's resolution, output [N, H_l, W_l] (default: bilinear
    /// upsampling to the input's size, broadcast over its channels).
    #[arg(long)]
    pub no_upsample: bool,
    /// Baseline distribution of gradient-shap, background of shapley-exact, kernel-shap
    /// and shapley-sampling (mean value over its rows, as SHAP), and training rows of tabular
    /// lime: .npy [B, ...input_shape] (alias --background).
    #[arg(long, alias = "background")]
    pub baselines: Option<PathBuf>,
    /// Method wrapped by smoothgrad / smoothgrad-squared / vargrad (default saliency).
    #[arg(long)]
    pub inner: Option<String>,
    /// Perturbation-method flags (occlusion, feature ablation, Shapley values, LIME).
    #[command(flatten)]
    pub perturb: Box<PerturbArgs>,
}

/// What `--output` receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// f32 .npy of the attributions.
    Npy,
    /// A JSON report ([`xai_passive::report::ExplanationReport`]).
    Json,
    /// Plain text ([`Output::to_text`]).
    Text,
}

/// Flags of the black-box perturbation methods. Parsed in [`run`] or by the method, so a bad
/// value is a one-line error.
#[derive(clap::Args)]
pub struct PerturbArgs {
    /// Occlusion window: HxW or C,H,W (missing leading axes span the whole axis), or N for
    /// flat inputs.
    #[arg(long)]
    pub window: Option<String>,
    /// Occlusion strides, same form as --window (default 1).
    #[arg(long)]
    pub stride: Option<String>,
    /// Feature groups: .npy of integer group ids with one example's shape (feature-ablation,
    /// shapley-exact, kernel-shap, shapley-sampling, lime).
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Superpixels as feature groups (channels together): grid:N (an N×N grid over the image)
    /// or `slic:N[,M]` (about N SLIC superpixels of each image, compactness M, default 10).
    #[arg(long)]
    pub segments: Option<String>,
    /// LIME kernel width σ > 0 (default 0.75·√d).
    #[arg(long, allow_hyphen_values = true)]
    pub kernel_width: Option<String>,
    /// LIME's perturbations: on-off (features, --mask groups or --segments switched to the
    /// baseline), training (tabular, lime's LimeTabularExplainer without discretisation:
    /// μ + N(0,1)·σ from the training rows), around-instance (x + N(0,1)·σ) or quartile
    /// (lime's default: features binned at their training quartiles, values drawn inside the
    /// bins). The tabular ones need --data or --baselines. Default on-off.
    #[arg(long)]
    pub lime_sampling: Option<String>,
    /// Training rows from a dataset (a bundled name: iris, wine, breast_cancer, digits,
    /// mnist, or a CSV file), used as --baselines is: tabular lime's statistics, the Shapley
    /// methods' background.
    #[arg(long)]
    pub data: Option<String>,
    /// meaningful-perturbation: Adam steps on the mask (default 300).
    #[arg(long, allow_negative_numbers = true)]
    pub iterations: Option<i64>,
    /// meaningful-perturbation: λ₁ ≥ 0 on mean |1 − m| (default 0.1).
    #[arg(long, allow_hyphen_values = true)]
    pub lambda_l1: Option<String>,
    /// meaningful-perturbation: λ₂ ≥ 0 on the mask's total variation (default 0.05).
    #[arg(long, allow_hyphen_values = true)]
    pub lambda_tv: Option<String>,
    /// meaningful-perturbation: side of the low-resolution mask (default ⌈max(H, W)/4⌉).
    #[arg(long, allow_negative_numbers = true)]
    pub mask_size: Option<i64>,
    /// meaningful-perturbation: what deleted pixels become: blur (Gaussian, σ = 10·max(H, W)/224
    /// px; the default), blur:SIGMA, or baseline (--baseline).
    #[arg(long)]
    pub reference: Option<String>,
    /// pdp / ice: the feature I (flat index into one example) or the pair I,J.
    #[arg(long)]
    pub feature: Option<String>,
    /// pdp / ice: grid points per feature, from the quantiles of --input (default 20).
    #[arg(long, allow_negative_numbers = true)]
    pub grid: Option<i64>,
}

/// Flags of the modified-gradient methods (LRP, deep Taylor, DeepLIFT). Parsed in [`run`], so
/// a bad value is a one-line error.
#[derive(clap::Args)]
pub struct RuleArgs {
    /// LRP-ε stabiliser ε ≥ 0 (lrp-epsilon, lrp-zb, lrp's dense layers; Zennit's default):
    /// R_in = x ⊙ Wᵀ(R / (z + ε·sign z)) (default 1e-6).
    #[arg(long, allow_hyphen_values = true)]
    pub epsilon: Option<String>,
    /// LRP-γ's γ ≥ 0 (lrp-gamma, lrp --composite epsilon-gamma-box): weights W + γW⁺
    /// (default 0.25).
    #[arg(long, allow_hyphen_values = true)]
    pub gamma: Option<String>,
    /// LRP-αβ's α ≥ 0 (lrp-alpha-beta; default 2); α − β must be 1.
    #[arg(long, allow_hyphen_values = true)]
    pub alpha: Option<String>,
    /// LRP-αβ's β ≥ 0 (lrp-alpha-beta; default 1).
    #[arg(long, allow_hyphen_values = true)]
    pub beta: Option<String>,
    /// Composite of `--method lrp`: a Zennit preset, epsilon-plus (ε dense, z⁺ conv),
    /// epsilon-plus-flat (and flat first layer), epsilon-alpha2-beta1 (ε dense, α2β1 conv),
    /// epsilon-gamma-box (z^B first conv, γ conv, ε dense); or comma-separated KEY=RULE,
    /// KEY one of linear, conv, first, first-conv, relu, pool, layer:NAME, RULE one of
    /// epsilon:E, gamma:G, alpha-beta:A:B, z-plus, zb:LOW:HIGH, w-square, flat, pass, gradient
    /// (and for relu: guided, deconv) (later
    /// keys win for the layers they name; first and layer: over linear/conv), e.g.
    /// linear=epsilon:1e-6,conv=gamma:0.25,first=zb:0:1. Default epsilon-plus.
    #[arg(long)]
    pub composite: Option<String>,
    /// DeepLIFT multiplier rule: rescale (default) or reveal-cancel.
    #[arg(long)]
    pub rule: Option<String>,
    /// Lowest input value for the z^B rule (lrp-zb, deep-taylor, epsilon-gamma-box), in the
    /// raw input space; with --high. Default for lrp-zb: each example's minimum; deep-taylor
    /// without bounds uses the w² rule on the first layer.
    #[arg(long, allow_hyphen_values = true)]
    pub low: Option<String>,
    /// Highest input value for the z^B rule; with --low. Default for lrp-zb: each example's
    /// maximum.
    #[arg(long, allow_hyphen_values = true)]
    pub high: Option<String>,
}

fn read_npy(what: &str, path: &Path) -> CliResult<Tensor> {
    Tensor::read_npy(path).map_err(|e| format!("{what} {}: {e}", path.display()).into())
}

/// A number flag (parsed here, so a bad value is a one-line error); a non-finite value is
/// passed as text, for the method to refuse by name.
fn number(flag: &str, v: &str) -> CliResult<Value> {
    let x: f64 = v
        .parse()
        .map_err(|_| format!("{flag} must be a number, got '{v}'"))?;
    Ok(float(x))
}

/// A float as a parameter value (JSON has no NaN or infinity: those go as text).
pub fn float(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::String(x.to_string())
    }
}

/// `--baseline`: a name the library parses, or a .npy file read here.
pub fn baseline_param(p: &mut Params, name: &str, spec: &str) -> CliResult {
    match spec.parse::<Baseline>() {
        Ok(_) => p.set(name, spec),
        Err(_) if spec.ends_with(".npy") || Path::new(spec).exists() => {
            p.set_tensor(name, read_npy(name, Path::new(spec))?)
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// The method's parameters from the flags given: each flag is the parameter of its name
/// (`--noise-std` → `noise_std`), except `--no-upsample` (`upsample = false`) and `--data`
/// (a dataset's rows as `baselines`). Flags left out take the method's defaults; a flag the
/// method does not take is refused by the registry, naming the ones it takes.
pub fn method_params(a: &Args) -> CliResult<Params> {
    let (r, q) = (&a.rules, &a.perturb);
    let text = |s: &Option<String>| s.as_ref().map(|s| json!(s));
    let num = |flag: &str, s: &Option<String>| s.as_deref().map(|s| number(flag, s)).transpose();
    let given: [(&str, Option<Value>); 32] = [
        ("abs", a.abs.then_some(json!(true))),
        ("channel_max", a.channel_max.then_some(json!(true))),
        ("upsample", a.no_upsample.then_some(json!(false))),
        ("batch_size", a.batch_size.map(|v| json!(v))),
        ("integration", text(&a.integration)),
        ("steps", a.steps.map(|v| json!(v))),
        ("samples", a.samples.map(|v| json!(v))),
        ("noise_std", a.noise_std.map(float)),
        ("seed", a.seed.map(|v| json!(v))),
        ("layer", text(&a.layer)),
        ("neuron", text(&a.neuron)),
        ("inner", text(&a.inner)),
        ("epsilon", num("--epsilon", &r.epsilon)?),
        ("gamma", num("--gamma", &r.gamma)?),
        ("alpha", num("--alpha", &r.alpha)?),
        ("beta", num("--beta", &r.beta)?),
        ("composite", text(&r.composite)),
        ("rule", text(&r.rule)),
        ("low", num("--low", &r.low)?),
        ("high", num("--high", &r.high)?),
        ("window", text(&q.window)),
        ("stride", text(&q.stride)),
        ("segments", text(&q.segments)),
        ("kernel_width", num("--kernel-width", &q.kernel_width)?),
        ("lime_sampling", text(&q.lime_sampling)),
        ("iterations", q.iterations.map(|v| json!(v))),
        ("lambda_l1", num("--lambda-l1", &q.lambda_l1)?),
        ("lambda_tv", num("--lambda-tv", &q.lambda_tv)?),
        ("mask_size", q.mask_size.map(|v| json!(v))),
        ("reference", text(&q.reference)),
        ("feature", text(&q.feature)),
        ("grid", q.grid.map(|v| json!(v))),
    ];
    let mut p = Params::default();
    for (name, v) in given {
        if let Some(v) = v {
            p.set(name, v);
        }
    }
    if let Some(b) = &a.baseline {
        baseline_param(&mut p, "baseline", b)?;
    }
    match (&a.baselines, &q.data) {
        (Some(_), Some(_)) => return Err("give --baselines or --data, not both".into()),
        (Some(path), None) => p.set_tensor("baselines", read_npy("baselines", path)?),
        (None, Some(name)) => p.set_tensor("baselines", xai_nn::Dataset::load(name)?.x),
        (None, None) => {}
    }
    if let Some(path) = &q.mask {
        p.set_tensor("mask", read_npy("mask", path)?);
    }
    Ok(p)
}

/// Runs `xai explain`: builds the method from the flags, runs it on the input and writes what
/// it gives — attribution maps (`.npy`, or JSON / text), curves (JSON / text) or any other
/// kind — with `--png` pictures of maps and curves.
pub fn run(a: &Args) -> CliResult {
    let params = method_params(a)?;
    let kind = registry::info(&a.method)?.output;
    let method = registry::build(&a.method, &params).map_err(with_flag_names)?;
    let maps = kind == OutputKind::Attributions;
    let format = a
        .format
        .unwrap_or(if maps { Format::Npy } else { Format::Json });
    let output = match (&a.output, format) {
        (Some(p), Format::Npy) if p == Path::new("-") => {
            return Err("--output - (standard output) needs --format json or text".into())
        }
        (None, Format::Npy) => {
            return Err("--output is required: the .npy file for the attributions".into())
        }
        (Some(p), _) => p.clone(),
        (None, _) => PathBuf::from("-"),
    };
    if format == Format::Npy && !maps {
        return Err(format!(
            "{} gives no attribution maps to write as .npy: use --format json or text",
            a.method
        )
        .into());
    }
    let start = Instant::now();
    let spinner = crate::progress::spinner(format!("explaining with {}", a.method));
    let device = if maps {
        a.device.clone()
    } else {
        super::DeviceArgs {
            device: a.device.resolve()?,
        }
    };
    let model = device.place_model(load_model(&a.model)?)?;
    let (x, shape) = read_input(&model, &a.input, a.allow_nan)?;
    let x = device.place(&x)?;
    let load_seconds = start.elapsed().as_secs_f64();
    let m: &dyn Layered = &model;
    if maps && a.png.is_some() && x.rank() != 4 {
        return Err(format!("--png needs image inputs [N, C, H, W], got {:?}", x.shape()).into());
    }
    let explained = method
        .explain(m.into(), &x, &a.target)
        .map_err(with_flag_names)?;
    spinner.finish_and_clear();
    // Every output is staged, then all are committed after the last fallible step.
    let mut out = crate::report::Outputs::new();
    let explained = match explained {
        Output::Attributions(e) => {
            // The method's own figures about its explanation (LIME's local fidelity).
            for d in &e.diagnostics {
                let v: Vec<String> = d.per_example.iter().map(|v| format!("{v:.4}")).collect();
                eprintln!("{} {}: {}", a.method, d.description, v.join(" "));
            }
            if let Some(dir) = &a.png {
                let signed = !(a.abs || a.channel_max);
                crate::render::write_heatmaps(
                    &mut out,
                    dir,
                    &a.method,
                    &x,
                    &e.attributions,
                    signed,
                )?;
            }
            // Input-space methods give the input's shape back; layer methods and
            // unupsampled maps keep their own per-example shape (without the batch axis for a
            // single example).
            let out = &e.attributions;
            let attributions = if out.shape()[1..] == x.shape()[1..] {
                out.reshape(&shape)?
            } else if shape.len() < x.rank() {
                out.reshape(&out.shape()[1..])?
            } else {
                out.clone()
            };
            Output::Attributions(Explanation { attributions, ..e })
        }
        Output::Curves(d) => {
            if let Some(dir) = &a.png {
                super::dependence::write_plot(&mut out, dir, &a.method, kind, &d)?;
            }
            Output::Curves(d)
        }
        other => other,
    };
    match (format, &explained) {
        (Format::Npy, Output::Attributions(e)) => {
            out.add(&output, &e.attributions.to_npy_bytes()?)?
        }
        (Format::Text, _) => out.add(&output, explained.to_text().as_bytes())?,
        _ => {
            let timings = Timings {
                load_seconds,
                attribute_seconds: start.elapsed().as_secs_f64() - load_seconds,
                total_seconds: 0.0,
            };
            let digest = crate::report::model_digest(&a.model)?;
            let report = ExplanationReport::new(
                &a.method,
                method.config(),
                &explained,
                &shape,
                digest,
                timings,
            );
            out.add(
                &output,
                crate::report::json_text(&report, start)?.as_bytes(),
            )?;
        }
    }
    out.commit()
}
