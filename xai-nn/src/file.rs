//! Model files, the contract users export from PyTorch with `tools/export_pytorch.py`:
//!
//! - `model.json`: `{"format": "xai-model", "version": 1, "input_shape": [...],
//!   "weights": "model.safetensors", "layers": [{"name": ..., "op": ..., ...}, ...]}`, with an
//!   optional `"normalize": {"mean": [...], "std": [...]}`;
//! - version 2, a graph: the same, the layers (nodes) in a topological order, a node with
//!   `"inputs": ["conv2", "skip"]` taking those nodes' outputs (`"input"` is the model input;
//!   without `"inputs"` a node takes the previous node's output, the first node the model
//!   input), and optionally `"outputs": {"logits": "fc", "reconstruction": "dec3"}` with
//!   `"output": "logits"`, the head predictions and explanations use (needed when there are
//!   several; without `"outputs"` the last node is the single output). Version 1 is the chain:
//!   it has neither;
//! - weights: safetensors with the PyTorch state-dict names (`{name}.weight`, …), f32
//!   (f64, f16 and bf16 are converted on load).
//!
//! A `model.json` whose weights file is absent is an architecture: [`load_or_init`] initialises
//! it (training), [`load`] refuses it (prediction, explanation).

use crate::error::NnError;
use crate::graph::{Graph, Node, Normalize, Outputs};
use crate::layers::{self, Init};
use crate::Result;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use xai_tensor::{Rng, Tensor};

/// The JSON document of a model file.
#[derive(Debug, Serialize, Deserialize)]
pub struct ModelSpec {
    pub format: String,
    pub version: u32,
    pub input_shape: Vec<usize>,
    pub weights: String,
    pub layers: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalize: Option<Normalize>,
    /// Version 2: head name → node name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<BTreeMap<String, String>>,
    /// Version 2: the default head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

fn file_err(path: &Path, msg: impl Into<String>) -> NnError {
    NnError::ModelFile {
        path: path.display().to_string(),
        msg: msg.into(),
    }
}

/// Reads and validates the JSON document.
pub fn read_spec(path: &Path) -> Result<ModelSpec> {
    xai_tensor::check_regular_file(path)?;
    let text = std::fs::read(path).map_err(|e| NnError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    parse_spec(path, &text)
}

/// Validates the JSON document `text` of the model file `path` (named in errors).
fn parse_spec(path: &Path, text: &[u8]) -> Result<ModelSpec> {
    let spec: ModelSpec = serde_json::from_slice(text)
        .map_err(|e| file_err(path, format!("invalid model JSON: {e}")))?;
    if spec.format != "xai-model" {
        return Err(file_err(
            path,
            format!("format is '{}', expected 'xai-model'", spec.format),
        ));
    }
    if !(1..=2).contains(&spec.version) {
        return Err(file_err(
            path,
            format!(
                "version {} is not supported (this xai reads versions 1 and 2)",
                spec.version
            ),
        ));
    }
    if spec.version == 1 {
        let graph_field = if spec.outputs.is_some() || spec.output.is_some() {
            Some("outputs")
        } else if spec.layers.iter().any(|l| l.get("inputs").is_some()) {
            Some("inputs")
        } else {
            None
        };
        if let Some(f) = graph_field {
            return Err(file_err(
                path,
                format!("'{f}' is a field of version 2 (a graph); this file says version 1"),
            ));
        }
    }
    let heads = spec.outputs.as_ref().map_or(0, |o| o.len());
    if heads > 1 && spec.output.is_none() {
        return Err(file_err(
            path,
            format!("{heads} outputs are declared: 'output' must name the default one"),
        ));
    }
    Ok(spec)
}

fn weights_path(json: &Path, spec: &ModelSpec) -> PathBuf {
    json.parent().unwrap_or(Path::new(".")).join(&spec.weights)
}

/// Loads a model with its weights. **Errors** if the weights file is absent.
pub fn load(path: impl AsRef<Path>) -> Result<Graph> {
    let path = path.as_ref();
    let spec = read_spec(path)?;
    let wpath = weights_path(path, &spec);
    if !wpath.exists() {
        return Err(NnError::MissingWeights {
            path: wpath.display().to_string(),
        });
    }
    build(path, &spec, Some(&wpath), 0)
}

/// Loads a model, or initialises it (seeded, PyTorch's default initialisation) when the weights
/// file is absent.
pub fn load_or_init(path: impl AsRef<Path>, seed: u64) -> Result<Graph> {
    let path = path.as_ref();
    let spec = read_spec(path)?;
    let wpath = weights_path(path, &spec);
    build(path, &spec, wpath.exists().then_some(wpath.as_path()), seed)
}

/// One layer entry of a model file.
struct LayerEntry<'a> {
    name: String,
    op: String,
    /// The nodes it takes; empty when absent.
    inputs: Vec<String>,
    fields: &'a Map<String, Value>,
}

fn layer_fields<'a>(path: &Path, i: usize, v: &'a Value) -> Result<LayerEntry<'a>> {
    let map = v
        .as_object()
        .ok_or_else(|| file_err(path, format!("layer {i} is not a JSON object")))?;
    let get = |k: &str| match map.get(k) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(file_err(path, format!("layer {i} needs a string '{k}'"))),
    };
    let name = get("name")?;
    let inputs = match map.get("inputs") {
        None => Vec::new(),
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                file_err(
                    path,
                    format!("layer '{name}': 'inputs' must be a list of node names"),
                )
            })?,
        Some(_) => {
            return Err(file_err(
                path,
                format!("layer '{name}': 'inputs' must be a non-empty list of node names"),
            ))
        }
    };
    Ok(LayerEntry {
        op: get("op")?,
        name,
        inputs,
        fields: map,
    })
}

fn build(path: &Path, spec: &ModelSpec, weights: Option<&Path>, seed: u64) -> Result<Graph> {
    if let Some(w) = weights {
        xai_tensor::check_regular_file(w)?;
    }
    let bytes = match weights {
        Some(w) => Some(std::fs::read(w).map_err(|e| NnError::Io {
            path: w.display().to_string(),
            source: e,
        })?),
        None => None,
    };
    build_from(path, spec, weights.zip(bytes.as_deref()), seed)
}

/// [`build`] from the weights file's bytes (`weights`: its path, named in errors, and its
/// contents), or initialised (seeded) without them.
fn build_from(
    path: &Path,
    spec: &ModelSpec,
    weights: Option<(&Path, &[u8])>,
    seed: u64,
) -> Result<Graph> {
    let st = weights
        .map(|(w, b)| {
            SafeTensors::deserialize(b)
                .map(|st| (w, st))
                .map_err(|e| file_err(w, format!("not a safetensors file: {e}")))
        })
        .transpose()?;
    let mut rng = Rng::new(seed);
    let mut layers = Vec::with_capacity(spec.layers.len());
    for (i, v) in spec.layers.iter().enumerate() {
        let LayerEntry {
            name,
            op,
            inputs,
            fields: map,
        } = layer_fields(path, i, v)?;
        let mut get =
            |suffix: &str, shape: &[usize], init: Init, required: bool| -> Result<Option<Tensor>> {
                let key = format!("{name}.{suffix}");
                match &st {
                    Some((w, st)) => match st.tensor(&key) {
                        Ok(view) => {
                            let t = to_tensor(w, &key, &view)?;
                            if t.shape() != shape {
                                return Err(NnError::WeightShape {
                                    path: w.display().to_string(),
                                    layer: name.clone(),
                                    name: key,
                                    expected: shape.to_vec(),
                                    got: t.shape().to_vec(),
                                });
                            }
                            Ok(Some(t))
                        }
                        Err(_) if !required => Ok(None),
                        Err(_) => Err(NnError::MissingTensor {
                            path: w.display().to_string(),
                            layer: name.clone(),
                            name: key,
                        }),
                    },
                    None => Ok(Some(init.draw(shape, &mut rng)?)),
                }
            };
        let layer = layers::build(&name, &op, map, &mut get)?;
        layers.push(Node::with_inputs(&name, layer, inputs));
    }
    let outputs = Outputs {
        heads: spec
            .outputs
            .iter()
            .flatten()
            .map(|(h, n)| (h.clone(), n.clone()))
            .collect(),
        default: spec.output.clone(),
    };
    Graph::new(
        spec.input_shape.clone(),
        layers,
        outputs,
        spec.normalize.clone(),
    )
}

fn to_tensor(path: &Path, key: &str, view: &TensorView) -> Result<Tensor> {
    let data = view.data();
    let values: Vec<f32> = match view.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        other => {
            return Err(file_err(
                path,
                format!("tensor '{key}' has dtype {other:?}; expected f32, f64, f16 or bf16"),
            ))
        }
    };
    Ok(Tensor::from_vec(values, view.shape())?)
}

/// Writes `model` as `json_path` plus its weights beside it (f32 safetensors), version 1 for a
/// chain with one output, version 2 otherwise. The weights file is named by its content,
/// `<stem>.<16 hex digits>.safetensors` ([`weights_name`]), and written first; renaming the JSON
/// into place is the single commit point, so a failed or killed save leaves the old JSON with
/// the weights it names, and a finished one the new pair. The weights the replaced JSON named
/// are then removed when they are a previous save's (same stem, content-named) and differ.
pub fn save(model: &Graph, json_path: impl AsRef<Path>) -> Result<()> {
    let json_path = json_path.as_ref();
    let stem = json_path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "model".into());
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut layer_specs = Vec::new();
    let chain = model.is_chain();
    for (i, l) in model.nodes().iter().enumerate() {
        let mut m = Map::new();
        m.insert("name".into(), Value::String(l.name.to_string()));
        m.insert("op".into(), Value::String(l.layer.op().into()));
        if !chain {
            m.insert("inputs".into(), model.input_names(i).into());
        }
        m.extend(l.layer.spec());
        layer_specs.push(Value::Object(m));
        let params = l
            .layer
            .params()
            .into_iter()
            .map(|(s, v)| (s, v.value().clone()));
        let buffers = l.layer.buffers().into_iter().map(|(s, t)| (s, t.clone()));
        for (suffix, t) in params.chain(buffers) {
            let bytes = t
                .to_vec_f32()?
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect();
            tensors.push((format!("{}.{suffix}", l.name), t.shape().to_vec(), bytes));
        }
    }
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, s, b)| TensorView::new(Dtype::F32, s.clone(), b).map(|v| (n.clone(), v)))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| file_err(json_path, format!("cannot serialise weights: {e}")))?;
    let blob = safetensors::serialize(views, &None)
        .map_err(|e| file_err(json_path, format!("cannot serialise weights: {e}")))?;
    let weights_name = weights_name(&stem, &blob);
    let declared = model.outputs();
    let spec = ModelSpec {
        format: "xai-model".into(),
        version: if chain { 1 } else { 2 },
        input_shape: model.input_shape_vec(),
        weights: weights_name.clone(),
        layers: layer_specs,
        normalize: model.normalize().cloned(),
        outputs: (!declared.heads.is_empty()).then(|| declared.heads.iter().cloned().collect()),
        output: (!declared.heads.is_empty()).then(|| model.heads()[0].0.clone()),
    };
    let json = serde_json::to_vec_pretty(&spec).map_err(|e| file_err(json_path, e.to_string()))?;
    let dir = json_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // The weights the JSON being replaced names, if a previous save wrote them.
    let previous = read_spec(json_path)
        .ok()
        .map(|old| old.weights)
        .filter(|w| *w != weights_name && is_content_named(w, &stem));
    // Weights first: no JSON ever names weights that are not there yet.
    xai_tensor::fs::write_atomic(&dir.join(&weights_name), &blob)?;
    xai_tensor::fs::write_atomic(json_path, &json)?;
    if let Some(old) = previous {
        let _ = std::fs::remove_file(dir.join(old));
    }
    Ok(())
}

/// The weights file name for `blob` beside `<stem>.json`: `<stem>.<FNV-1a 64 of the bytes, 16
/// hex digits>.safetensors`. Same weights, same name; other weights, (all but surely) another.
pub fn weights_name(stem: &str, blob: &[u8]) -> String {
    let hash = blob.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{stem}.{hash:016x}.safetensors")
}

/// Whether `name` is a weights file [`save`] names for `stem`.
fn is_content_named(name: &str, stem: &str) -> bool {
    name.strip_prefix(stem)
        .and_then(|r| r.strip_prefix('.'))
        .and_then(|r| r.strip_suffix(".safetensors"))
        .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Forward;
    use xai_tensor::{DType, Rng};

    const ARCH: &str = r#"{"format": "xai-model", "version": 1, "input_shape": [2, 6, 6], "weights": "m.safetensors",
        "normalize": {"mean": [0.5, -1.0], "std": [2.0, 0.5]},
        "layers": [
          {"name": "c", "op": "conv2d", "in_channels": 2, "out_channels": 3, "kernel_size": 3, "padding": 1},
          {"name": "bn", "op": "batchnorm2d", "num_features": 3, "eps": 1e-5},
          {"name": "a", "op": "leaky_relu", "negative_slope": 0.2},
          {"name": "p", "op": "avgpool2d", "kernel_size": [2, 2]},
          {"name": "f", "op": "flatten"},
          {"name": "d", "op": "dropout", "p": 0.1},
          {"name": "l", "op": "linear", "in_features": 27, "out_features": 4}]}"#;

    #[test]
    fn architecture_initialises_seeded_and_round_trips_through_save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("m.json");
        std::fs::write(&json, ARCH).unwrap();
        assert!(matches!(load(&json), Err(NnError::MissingWeights { .. })));
        let a = load_or_init(&json, 3).unwrap();
        let b = load_or_init(&json, 3).unwrap();
        let x = Rng::new(1)
            .normal(&[5, 2, 6, 6], 0.0, 1.0, DType::F32)
            .unwrap();
        let ya = a.predict(&x).unwrap();
        assert_eq!(
            ya.to_vec_f32().unwrap(),
            b.predict(&x).unwrap().to_vec_f32().unwrap(),
            "same seed, same model"
        );
        let out = dir.path().join("saved.json");
        save(&a, &out).unwrap();
        let c = load(&out).unwrap();
        assert_eq!(
            c.predict(&x).unwrap().to_vec_f32().unwrap(),
            ya.to_vec_f32().unwrap()
        );
        assert_eq!(c.normalize(), a.normalize());
        assert_eq!(c.node_shapes().last().unwrap(), &vec![4]);
    }

    #[test]
    fn layer_that_cannot_take_its_input_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("m.json");
        std::fs::write(
            &json,
            ARCH.replace("\"in_features\": 27", "\"in_features\": 28"),
        )
        .unwrap();
        let e = load_or_init(&json, 0).unwrap_err().to_string();
        assert!(
            e.contains("layer 'l' (linear)") && e.contains("28 input features"),
            "{e}"
        );
        std::fs::write(&json, ARCH.replace("\"version\": 1", "\"version\": 3")).unwrap();
        assert!(load_or_init(&json, 0)
            .unwrap_err()
            .to_string()
            .contains("version 3"));
    }

    /// A residual block with a 1×1 projection shortcut, a concat, and two heads.
    const GRAPH: &str = r#"{"format": "xai-model", "version": 2, "input_shape": [2, 5, 5], "weights": "g.safetensors",
        "layers": [
          {"name": "stem", "op": "conv2d", "in_channels": 2, "out_channels": 3, "kernel_size": 3, "padding": 1},
          {"name": "block.conv1", "op": "conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3, "padding": 1},
          {"name": "block.relu", "op": "relu"},
          {"name": "block.conv2", "op": "conv2d", "in_channels": 4, "out_channels": 4, "kernel_size": 3, "padding": 1},
          {"name": "block.shortcut", "op": "conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 1, "inputs": ["stem"]},
          {"name": "add", "op": "add", "inputs": ["block.conv2", "block.shortcut"]},
          {"name": "cat", "op": "concat", "inputs": ["add", "input"]},
          {"name": "pool", "op": "global_avgpool2d"},
          {"name": "fc", "op": "linear", "in_features": 6, "out_features": 3},
          {"name": "probs", "op": "softmax", "inputs": ["fc"]}],
        "outputs": {"logits": "fc", "probabilities": "probs"}, "output": "logits"}"#;

    fn graph_file(dir: &Path, text: &str) -> PathBuf {
        let json = dir.join("g.json");
        std::fs::write(&json, text).unwrap();
        json
    }

    #[test]
    fn graph_runs_its_branches_and_heads_and_round_trips_as_version_2() {
        let dir = tempfile::tempdir().unwrap();
        let g = load_or_init(graph_file(dir.path(), GRAPH), 4).unwrap();
        assert!(!g.is_chain());
        assert_eq!(g.heads()[0], ("logits".to_string(), 8));
        assert_eq!(g.heads()[1], ("probabilities".to_string(), 9));
        let x = Rng::new(2)
            .normal(&[3, 2, 5, 5], 0.0, 1.0, DType::F32)
            .unwrap();
        // By hand, node by node.
        let var = |t: &Tensor| xai_autodiff::Var::constant(t.clone());
        let run = |name: &str, inputs: &[xai_autodiff::Var]| {
            let i = g.node_index(name).unwrap();
            g.nodes()[i]
                .layer
                .forward(inputs, &mut crate::Ctx::eval())
                .unwrap()
        };
        let stem = run("stem", &[var(&x)]);
        let c1 = run(
            "block.relu",
            &[run("block.conv1", std::slice::from_ref(&stem))],
        );
        let c2 = run("block.conv2", &[c1]);
        let sc = run("block.shortcut", &[stem]);
        let sum = c2.add(&sc).unwrap();
        let cat = xai_autodiff::Var::cat(&[sum, var(&x)], 1).unwrap();
        let logits = run("fc", &[run("pool", &[cat])]);
        let y = g.predict(&x).unwrap();
        assert_eq!(
            y.to_vec_f32().unwrap(),
            logits.value().to_vec_f32().unwrap()
        );
        let trace = no_grad_trace(&g, &x);
        let p = trace[9].to_vec_f32().unwrap();
        assert!(p
            .chunks(3)
            .all(|r| (r.iter().sum::<f32>() - 1.0).abs() < 1e-6));
        // Saved as version 2 with inputs and heads; loads to the same function.
        let out = dir.path().join("saved.json");
        save(&g, &out).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains("\"version\": 2") && text.contains("\"probabilities\""));
        let h = load(&out).unwrap();
        assert_eq!(
            h.predict(&x).unwrap().to_vec_f32().unwrap(),
            y.to_vec_f32().unwrap()
        );
        assert_eq!(h.heads(), g.heads());
    }

    fn no_grad_trace(g: &Graph, x: &Tensor) -> Vec<Tensor> {
        use crate::model::Layered;
        xai_autodiff::no_grad(|| g.forward_trace(&xai_autodiff::Var::constant(x.clone())))
            .unwrap()
            .into_iter()
            .map(|v| v.value().clone())
            .collect()
    }

    #[test]
    fn forward_from_a_node_inside_a_block_keeps_the_shortcut_on_the_input() {
        use crate::model::Layered;
        let dir = tempfile::tempdir().unwrap();
        let g = load_or_init(graph_file(dir.path(), GRAPH), 4).unwrap();
        let x = Rng::new(3)
            .normal(&[2, 2, 5, 5], 0.0, 1.0, DType::F32)
            .unwrap();
        let trace = no_grad_trace(&g, &x);
        let xv = xai_autodiff::Var::constant(x.clone());
        let i = g.node_index("block.conv2").unwrap();
        // The node's own activation gives back the model output ...
        let same = g
            .forward_from(
                "block.conv2",
                &xv,
                &xai_autodiff::Var::constant(trace[i].clone()),
            )
            .unwrap();
        assert_eq!(
            same.value().to_vec_f32().unwrap(),
            g.predict(&x).unwrap().to_vec_f32().unwrap()
        );
        // ... and zeros there leave the shortcut and the concatenated input in place.
        let zeros = Tensor::zeros(trace[i].shape(), DType::F32);
        let cut = g
            .forward_from("block.conv2", &xv, &xai_autodiff::Var::constant(zeros))
            .unwrap();
        let sc = &trace[g.node_index("block.shortcut").unwrap()];
        let cat = Tensor::cat(&[sc.clone(), x.clone()], 1).unwrap();
        let fc = g.node_index("fc").unwrap();
        let pooled = g.nodes()[g.node_index("pool").unwrap()]
            .layer
            .forward(&[xai_autodiff::Var::constant(cat)], &mut crate::Ctx::eval())
            .unwrap();
        let want = g.nodes()[fc]
            .layer
            .forward(&[pooled], &mut crate::Ctx::eval())
            .unwrap();
        assert_eq!(
            cut.value().to_vec_f32().unwrap(),
            want.value().to_vec_f32().unwrap()
        );
        assert!(g.forward_from("nope", &xv, &xv).is_err());
    }

    #[test]
    fn fields_an_op_does_not_read_are_refused_naming_layer_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let arch = |layers: &str| {
            format!(
                r#"{{"format": "xai-model", "version": 1, "input_shape": [2, 6, 6],
                "weights": "m.safetensors", "layers": [{layers},
                {{"name": "f", "op": "flatten"}}]}}"#
            )
        };
        let conv = r#"{"name": "c", "op": "conv2d", "in_channels": 2, "out_channels": 2, "kernel_size": 3"#;
        let cases = [
            (
                format!("{conv}, \"groups\": 2}}"),
                "layer 'c' (conv2d): 'groups' 2 is not supported (groups 1 only)",
            ),
            (
                format!("{conv}, \"strides\": 2}}"),
                "layer 'c' (conv2d): unknown field 'strides' (this op's fields: bias, dilation,",
            ),
            (
                r#"{"name": "p", "op": "maxpool2d", "kernel_size": 2, "padding": [1, 1]}"#
                    .to_string(),
                "layer 'p' (maxpool2d): 'padding' [1,1] is not supported (padding 0 only)",
            ),
            (
                r#"{"name": "p", "op": "avgpool2d", "kernel_size": 2, "ceil_mode": true}"#
                    .to_string(),
                "layer 'p' (avgpool2d): 'ceil_mode' true is not supported (floor mode only)",
            ),
            (
                r#"{"name": "r", "op": "relu", "negative_slope": 0.1}"#.to_string(),
                "layer 'r' (relu): unknown field 'negative_slope' (this op's fields: none)",
            ),
        ];
        for (layers, want) in cases {
            let p = dir.path().join("m.json");
            std::fs::write(&p, arch(&layers)).unwrap();
            let e = load_or_init(&p, 0).unwrap_err().to_string();
            assert!(e.contains(want) && !e.contains('\n'), "{e}\nwanted: {want}");
        }
        // PyTorch's defaults of the unsupported fields, and `inplace`, are accepted.
        let p = dir.path().join("m.json");
        let ok = format!(
            "{conv}, \"groups\": 1, \"padding_mode\": \"zeros\"}}, \
             {{\"name\": \"r\", \"op\": \"relu\", \"inplace\": true}}, \
             {{\"name\": \"p\", \"op\": \"maxpool2d\", \"kernel_size\": 2, \"padding\": 0, \"ceil_mode\": false, \"dilation\": [1, 1]}}"
        );
        std::fs::write(&p, arch(&ok)).unwrap();
        load_or_init(&p, 0).unwrap();
    }

    #[test]
    fn a_missing_bias_is_an_error_unless_the_layer_says_bias_false() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("m.json");
        let arch = |bias: &str| {
            format!(
                r#"{{"format": "xai-model", "version": 1, "input_shape": [3], "weights": "m.safetensors",
                "layers": [{{"name": "l", "op": "linear", "in_features": 3, "out_features": 2{bias}}}]}}"#
            )
        };
        // Saved without a bias, the file says so and loads back.
        std::fs::write(&json, arch(r#", "bias": false"#)).unwrap();
        let m = load_or_init(&json, 1).unwrap();
        assert_eq!(m.named_params().len(), 1);
        let out = dir.path().join("saved.json");
        save(&m, &out).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains(r#""bias": false"#), "{text}");
        load(&out).unwrap();
        // The same weights file under a spec that expects a bias: refused, naming the tensor.
        std::fs::write(&json, arch("")).unwrap();
        let spec: ModelSpec = serde_json::from_str(&text).unwrap();
        std::fs::copy(
            dir.path().join(spec.weights),
            dir.path().join("m.safetensors"),
        )
        .unwrap();
        let e = load(&json).unwrap_err().to_string();
        assert!(e.contains("l.bias") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn bad_graphs_are_one_line_errors_naming_the_node() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            // A cycle: a node takes a later one.
            (
                GRAPH.replace(r#""inputs": ["stem"]}"#, r#""inputs": ["add"]}"#),
                "layer 'block.shortcut' (conv2d): takes 'add', which comes after it",
            ),
            (
                GRAPH.replace(r#""inputs": ["stem"]}"#, r#""inputs": ["block.shortcut"]}"#),
                "layer 'block.shortcut' (conv2d): takes its own output",
            ),
            (
                GRAPH.replace(r#"["add", "input"]"#, r#"["add", "inptu"]"#),
                "layer 'cat' (concat): takes 'inptu', which is no node",
            ),
            (
                GRAPH.replace(
                    r#""kernel_size": 1, "inputs""#,
                    r#""kernel_size": 1, "stride": 2, "inputs""#,
                ),
                "layer 'add' (add): inputs of shapes [[4, 5, 5], [4, 3, 3]] do not broadcast",
            ),
            (
                GRAPH.replace(r#""name": "block.relu""#, r#""name": "block.conv1""#),
                "layer 'block.conv1' (relu): two nodes have this name",
            ),
            (
                GRAPH.replace(r#""probabilities": "probs""#, r#""probabilities": "prob""#),
                "output 'probabilities': names no node 'prob'",
            ),
            (
                GRAPH.replace(r#""output": "logits""#, r#""output": "logit""#),
                "output 'logit': is the default output, but no output has that name",
            ),
            (
                GRAPH.replace(r#", "output": "logits""#, ""),
                "2 outputs are declared: 'output' must name the default one",
            ),
            (
                GRAPH.replace(r#"["block.conv2", "block.shortcut"]"#, r#"["block.conv2"]"#),
                "layer 'add' (add): takes 1 input(s), but add needs two or more",
            ),
            (
                GRAPH.replace(r#""name": "stem""#, r#""name": "input""#),
                "'input' names the model input",
            ),
            (
                GRAPH.replace(r#""version": 2"#, r#""version": 1"#),
                "is a field of version 2 (a graph); this file says version 1",
            ),
        ];
        for (text, want) in cases {
            let e = load_or_init(graph_file(dir.path(), &text), 0)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want) && !e.contains('\n'), "{e}\nwanted: {want}");
        }
    }

    #[test]
    fn a_chain_saves_as_version_1() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("m.json");
        std::fs::write(&json, ARCH).unwrap();
        let a = load_or_init(&json, 3).unwrap();
        assert!(a.is_chain());
        let out = dir.path().join("saved.json");
        save(&a, &out).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains("\"version\": 1") && !text.contains("inputs"));
    }

    #[test]
    fn a_save_commits_by_its_json_and_removes_only_the_weights_a_previous_save_named() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("m.json");
        std::fs::write(&json, ARCH).unwrap();
        let (a, b) = (
            load_or_init(&json, 3).unwrap(),
            load_or_init(&json, 4).unwrap(),
        );
        let out = dir.path().join("saved.json");
        let names = || {
            let mut v: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let sorted = |v: &[&str]| -> Vec<String> {
            let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
            v.sort();
            v
        };
        let weights_of = |p: &Path| -> String {
            let spec: ModelSpec = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            spec.weights
        };
        save(&a, &out).unwrap();
        let wa = weights_of(&out);
        assert!(is_content_named(&wa, "saved"), "{wa}");
        assert_eq!(names(), sorted(&["m.json", "saved.json", &wa]));
        // The same weights again: the same name, one file.
        save(&a, &out).unwrap();
        assert_eq!(weights_of(&out), wa);
        assert_eq!(names(), sorted(&["m.json", "saved.json", &wa]));
        // Other weights: a new file, the old one removed after the JSON names the new one.
        save(&b, &out).unwrap();
        let wb = weights_of(&out);
        assert_ne!(wa, wb);
        assert_eq!(names(), sorted(&["m.json", "saved.json", &wb]));
        // A JSON naming weights a save did not write (exported from PyTorch): those are kept.
        std::fs::write(dir.path().join("mine.safetensors"), b"not ours").unwrap();
        let text = std::fs::read_to_string(&out)
            .unwrap()
            .replace(&wb, "mine.safetensors");
        std::fs::write(&out, text).unwrap();
        save(&a, &out).unwrap();
        let all = ["m.json", "mine.safetensors", "saved.json", &wa, &wb];
        assert_eq!(names(), sorted(&all));
        assert!(load(&out).is_ok());
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;
        use std::sync::OnceLock;

        /// The two valid models the mutations start from: (JSON, weights) of [`GRAPH`]
        /// (version 2) and [`ARCH`] (version 1, batch norm and normalisation), saved once.
        fn valid() -> &'static [(String, Vec<u8>); 2] {
            static FILES: OnceLock<[(String, Vec<u8>); 2]> = OnceLock::new();
            FILES.get_or_init(|| {
                let dir = tempfile::tempdir().unwrap();
                [GRAPH, ARCH].map(|text| {
                    let json = dir.path().join("a.json");
                    std::fs::write(&json, text).unwrap();
                    let out = dir.path().join("b.json");
                    save(&load_or_init(&json, 1).unwrap(), &out).unwrap();
                    let saved = std::fs::read_to_string(&out).unwrap();
                    let spec: ModelSpec = serde_json::from_str(&saved).unwrap();
                    let w = std::fs::read(dir.path().join(spec.weights)).unwrap();
                    (saved, w)
                })
            })
        }

        /// Loads the bytes as a model and, when that succeeds, predicts a small batch. Never a
        /// panic: an error of one line, or a model whose prediction is one too or `[2, K]`.
        fn load_and_run(json: &[u8], weights: &[u8]) -> std::result::Result<(), TestCaseError> {
            let p = Path::new("m.json");
            let model = parse_spec(p, json).and_then(|spec| {
                build_from(p, &spec, Some((Path::new("m.safetensors"), weights)), 0)
            });
            match model {
                Err(e) => prop_assert_eq!(e.to_string().lines().count(), 1, "{}", e),
                Ok(m) => {
                    let mut shape = vec![2];
                    shape.extend(m.input_shape());
                    if shape.iter().product::<usize>() <= 1 << 16 {
                        let x = xai_tensor::Rng::new(0)
                            .normal(&shape, 0.0, 1.0, DType::F32)
                            .unwrap();
                        match m.predict(&x) {
                            Ok(y) => prop_assert_eq!(y.shape()[0], 2),
                            Err(e) => prop_assert_eq!(e.to_string().lines().count(), 1, "{}", e),
                        }
                    }
                }
            }
            Ok(())
        }

        /// Edits at random places: a character replaced, deleted or inserted (`alphabet`), or a
        /// hostile value spliced in.
        fn edits() -> impl Strategy<Value = Vec<(prop::sample::Index, u8, u8)>> {
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..5), 1..4)
        }

        fn apply(
            mut b: Vec<u8>,
            edits: &[(prop::sample::Index, u8, u8)],
            alphabet: &[u8],
        ) -> Vec<u8> {
            const HOSTILE: [&[u8]; 8] = [
                b"1e300",
                b"-1",
                b"18446744073709551615",
                b"4611686018427387904",
                b"null",
                b"[]",
                b"{}",
                b"\"x\"",
            ];
            for (at, v, op) in edits {
                let i = at.index(b.len() + 1);
                let ch = alphabet[*v as usize % alphabet.len()];
                match op {
                    0 | 1 if i < b.len() => b[i] = ch,
                    2 if i < b.len() => {
                        b.remove(i);
                    }
                    3 => {
                        let h = HOSTILE[*v as usize % HOSTILE.len()];
                        b.splice(i..i, h.iter().copied());
                    }
                    _ => b.insert(i, ch),
                }
            }
            b
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

            /// Model JSON with random edits (numbers, names, brackets), over valid weights.
            #[test]
            fn fuzzed_model_json_loads_or_is_a_one_line_error(which in 0usize..2, e in edits()) {
                let (json, weights) = &valid()[which];
                let alphabet = b"0123456789-.e,:[]{}\" abcnrtfl_";
                let json = apply(json.clone().into_bytes(), &e, alphabet);
                load_and_run(&json, weights)?;
            }

            /// Safetensors weights with random byte edits (the header's JSON, its length
            /// prefix, the data) or cut short, under the valid JSON.
            #[test]
            fn fuzzed_safetensors_load_or_are_a_one_line_error(
                which in 0usize..2,
                e in edits(),
                cut in any::<prop::sample::Index>(),
                truncate in any::<bool>(),
            ) {
                let (json, weights) = &valid()[which];
                let alphabet: Vec<u8> = (0..=255).collect();
                let mut w = apply(weights.clone(), &e, &alphabet);
                if truncate {
                    w.truncate(cut.index(w.len() + 1));
                }
                load_and_run(json.as_bytes(), &w)?;
            }
        }
    }
}
