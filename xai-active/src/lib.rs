//! # xai-active
//!
//! *Active* interpretability (Zhang et al., *A Survey on Neural Network Interpretability*,
//! §IV): methods that train a network to be interpretable rather than explain it afterwards —
//! tree regularization (Wu et al. 2018), prototype layers (Li et al. 2018; Chen et al.
//! "This looks like that" 2019), one-filter-one-concept losses (Zhang et al. 2018) and
//! input-gradient penalties (Ross et al. 2017). They plug into the trainer of `xai-nn` as extra
//! loss terms and use the double backprop of `xai-autodiff`. Content arrives with its issue.
