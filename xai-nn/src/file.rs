//! Model files, the contract users export from PyTorch with `tools/export_pytorch.py`:
//!
//! - `model.json`: `{"format": "xai-model", "version": 1, "input_shape": [...],
//!   "weights": "model.safetensors", "layers": [{"name": ..., "op": ..., ...}, ...]}`, with an
//!   optional `"normalize": {"mean": [...], "std": [...]}`;
//! - weights: safetensors with `nn.Sequential` state-dict names (`{name}.weight`, …), f32
//!   (f64, f16 and bf16 are converted on load).
//!
//! A `model.json` whose weights file is absent is an architecture: [`load_or_init`] initialises
//! it (training), [`load`] refuses it (prediction, explanation).

use crate::error::NnError;
use crate::layers::{self, Init};
use crate::sequential::{NamedLayer, Normalize, Sequential};
use crate::Result;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use xai_tensor::{write_atomic, Rng, Tensor};

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
}

fn file_err(path: &Path, msg: impl Into<String>) -> NnError {
    NnError::ModelFile {
        path: path.display().to_string(),
        msg: msg.into(),
    }
}

/// Reads and validates the JSON document.
pub fn read_spec(path: &Path) -> Result<ModelSpec> {
    let text = std::fs::read_to_string(path).map_err(|e| NnError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    let spec: ModelSpec = serde_json::from_str(&text)
        .map_err(|e| file_err(path, format!("invalid model JSON: {e}")))?;
    if spec.format != "xai-model" {
        return Err(file_err(
            path,
            format!("format is '{}', expected 'xai-model'", spec.format),
        ));
    }
    if spec.version != 1 {
        return Err(file_err(
            path,
            format!(
                "version {} is not supported (this xai reads version 1)",
                spec.version
            ),
        ));
    }
    Ok(spec)
}

fn weights_path(json: &Path, spec: &ModelSpec) -> PathBuf {
    json.parent().unwrap_or(Path::new(".")).join(&spec.weights)
}

/// Loads a model with its weights. **Errors** if the weights file is absent.
pub fn load(path: impl AsRef<Path>) -> Result<Sequential> {
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
pub fn load_or_init(path: impl AsRef<Path>, seed: u64) -> Result<Sequential> {
    let path = path.as_ref();
    let spec = read_spec(path)?;
    let wpath = weights_path(path, &spec);
    build(path, &spec, wpath.exists().then_some(wpath.as_path()), seed)
}

fn layer_fields<'a>(
    path: &Path,
    i: usize,
    v: &'a Value,
) -> Result<(String, String, &'a Map<String, Value>)> {
    let map = v
        .as_object()
        .ok_or_else(|| file_err(path, format!("layer {i} is not a JSON object")))?;
    let get = |k: &str| match map.get(k) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(file_err(path, format!("layer {i} needs a string '{k}'"))),
    };
    Ok((get("name")?, get("op")?, map))
}

fn build(path: &Path, spec: &ModelSpec, weights: Option<&Path>, seed: u64) -> Result<Sequential> {
    let bytes = match weights {
        Some(w) => Some(std::fs::read(w).map_err(|e| NnError::Io {
            path: w.display().to_string(),
            source: e,
        })?),
        None => None,
    };
    let st = match (&bytes, weights) {
        (Some(b), Some(w)) => Some(
            SafeTensors::deserialize(b)
                .map_err(|e| file_err(w, format!("not a safetensors file: {e}")))?,
        ),
        _ => None,
    };
    let mut rng = Rng::new(seed);
    let mut layers = Vec::with_capacity(spec.layers.len());
    for (i, v) in spec.layers.iter().enumerate() {
        let (name, op, map) = layer_fields(path, i, v)?;
        let mut get =
            |suffix: &str, shape: &[usize], init: Init, required: bool| -> Result<Option<Tensor>> {
                let key = format!("{name}.{suffix}");
                match (&st, weights) {
                    (Some(st), Some(w)) => match st.tensor(&key) {
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
                    _ => Ok(Some(init.draw(shape, &mut rng)?)),
                }
            };
        let layer = layers::build(&name, &op, map, &mut get)?;
        layers.push(NamedLayer {
            name: Arc::from(name.as_str()),
            layer,
        });
    }
    Sequential::new(spec.input_shape.clone(), layers, spec.normalize.clone())
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

/// Writes `model` as `json_path` plus `<stem>.safetensors` beside it (f32), each atomically.
pub fn save(model: &Sequential, json_path: impl AsRef<Path>) -> Result<()> {
    let json_path = json_path.as_ref();
    let stem = json_path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "model".into());
    let weights_name = format!("{stem}.safetensors");
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut layer_specs = Vec::new();
    for l in model.layers() {
        let mut m = Map::new();
        m.insert("name".into(), Value::String(l.name.to_string()));
        m.insert("op".into(), Value::String(l.layer.op().into()));
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
    let spec = ModelSpec {
        format: "xai-model".into(),
        version: 1,
        input_shape: model.input_shape_vec(),
        weights: weights_name.clone(),
        layers: layer_specs,
        normalize: model.normalize().cloned(),
    };
    let json = serde_json::to_vec_pretty(&spec).map_err(|e| file_err(json_path, e.to_string()))?;
    let dir = json_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    write_atomic(&dir.join(weights_name), &blob)?;
    write_atomic(json_path, &json)?;
    Ok(())
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
        assert_eq!(c.layer_shapes().last().unwrap(), &vec![4]);
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
        std::fs::write(&json, ARCH.replace("\"version\": 1", "\"version\": 2")).unwrap();
        assert!(load_or_init(&json, 0)
            .unwrap_err()
            .to_string()
            .contains("version 2"));
    }
}
