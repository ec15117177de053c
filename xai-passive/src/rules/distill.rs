//! Pedagogical rule extraction by CART distillation (Craven & Shavlik's "the network as an
//! oracle"; Zhang et al., *A Survey on Neural Network Interpretability*, §III-A): label the
//! training rows with the network's own predictions, argmax_k f_k(x), and fit a CART tree to
//! them — or, with `soft`, a regression tree to the class probabilities softmax(f(x)) whose
//! leaves predict the argmax of their mean probabilities. The tree's rules explain the
//! network, not the data: its fidelity, the share of rows on which tree and network agree, is
//! what [`xai_eval`'s rule metrics] measure on held-out rows.
//!
//! [`xai_eval`'s rule metrics]: https://docs.rs/xai-eval

use super::cart::Cart;
use super::{ExtractedRules, RuleData, RuleExtractor};
use crate::config::{at_least_one, MethodConfig};
use crate::{map_rows, Result, DEFAULT_BATCH_SIZE};
use serde::{Deserialize, Serialize};
use xai_nn::Forward;

/// CART fitted to a network's predictions on the training rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CartDistillation {
    /// The tree's settings.
    #[serde(flatten)]
    pub cart: Cart,
    /// Fit a regression tree to the class probabilities instead of a classification tree to
    /// the predicted classes.
    pub soft: bool,
    /// Rows per model call.
    pub batch_size: usize,
}

impl Default for CartDistillation {
    fn default() -> Self {
        Self {
            cart: Cart::default(),
            soft: false,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for CartDistillation {
    fn validate(&self) -> Result<()> {
        self.cart.validate()?;
        at_least_one("batch_size", self.batch_size)
    }
}

impl RuleExtractor<dyn Forward> for CartDistillation {
    fn name(&self) -> &'static str {
        "cart"
    }

    fn extract(&self, model: &dyn Forward, data: &RuleData<'_>) -> Result<ExtractedRules> {
        let logits = map_rows(
            data.x,
            self.batch_size,
            |chunk, _| Ok(model.predict(chunk)?),
        )?;
        let n = data.x.shape()[0];
        let k = logits.numel() / n.max(1);
        let logits = logits.reshape(&[n, k])?;
        let mut tree = if self.soft {
            let p = logits.softmax(1)?.to_vec_f64()?;
            self.cart.fit_regression(data.x, &p, None)?
        } else {
            self.cart.fit_classes(data.x, &logits.argmax(1)?, k, None)?
        };
        tree.feature_names = data.feature_names.to_vec();
        Ok(ExtractedRules::from_tree(tree))
    }
}
