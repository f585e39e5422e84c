//! Checking an equivocation proof (the two signed votes simplex reported) against the
//! validator set: what every validator does before it votes for a block that slashes someone.

use super::{BftError, Digest, Scheme, ValidatorKey};
use commonware_codec::DecodeExt;
use commonware_consensus::simplex::types::{
    Attributable, ConflictingFinalize, ConflictingNotarize, NullifyFinalize,
};
use commonware_consensus::Viewable;
use commonware_parallel::Sequential;
use commonware_utils::ordered::Set;

fn invalid(reason: impl Into<String>) -> BftError {
    BftError::Evidence {
        reason: reason.into(),
    }
}

/// Checks a proof of `kind` (`conflicting_notarize`, `conflicting_finalize`,
/// `nullify_finalize`) under `namespace` (the chain id) and the validator set `validators`;
/// returns the offender's key bytes and the view.
///
/// Errors: [`BftError::Evidence`] when the bytes do not decode as that kind, a signature does
/// not verify, or the signer is not in the set; [`BftError::ValidatorSet`] for a bad set.
pub fn verify_equivocation(
    namespace: &[u8],
    validators: &[ValidatorKey],
    kind: &str,
    proof: &[u8],
) -> Result<([u8; 32], u64), BftError> {
    let set: Set<ValidatorKey> =
        Set::try_from(validators.to_vec()).map_err(|_| BftError::ValidatorSet {
            reason: "a key appears twice".into(),
        })?;
    let scheme = Scheme::verifier(namespace, set.clone());
    let mut rng = commonware_utils::sys_rng();
    let (ok, signer, view) = match kind {
        "conflicting_notarize" => {
            let c = ConflictingNotarize::<Scheme, Digest>::decode(proof.to_vec())
                .map_err(|e| invalid(e.to_string()))?;
            (
                c.verify(&mut rng, &scheme, &Sequential),
                c.signer(),
                c.view(),
            )
        }
        "conflicting_finalize" => {
            let c = ConflictingFinalize::<Scheme, Digest>::decode(proof.to_vec())
                .map_err(|e| invalid(e.to_string()))?;
            (
                c.verify(&mut rng, &scheme, &Sequential),
                c.signer(),
                c.view(),
            )
        }
        "nullify_finalize" => {
            let c = NullifyFinalize::<Scheme, Digest>::decode(proof.to_vec())
                .map_err(|e| invalid(e.to_string()))?;
            (
                c.verify(&mut rng, &scheme, &Sequential),
                c.signer(),
                c.view(),
            )
        }
        other => return Err(invalid(format!("unknown kind {other:?}"))),
    };
    if !ok {
        return Err(invalid("a signature does not verify"));
    }
    let key = usize::try_from(signer.get())
        .ok()
        .and_then(|i| Vec::from(set).get(i).cloned())
        .ok_or_else(|| invalid("signer outside the validator set"))?;
    let mut out = [0u8; 32];
    out.copy_from_slice(key.as_ref());
    Ok((out, view.get()))
}

/// Signs two conflicting notarize votes of `key` in `view` (as an equivocating validator
/// would) and returns the `conflicting_notarize` proof: for tests of the slashing path.
///
/// Errors: [`BftError`] when the key is not in the set.
#[cfg(feature = "sim")]
pub fn forge_conflicting_notarize(
    namespace: &[u8],
    validators: &[ValidatorKey],
    key: &super::ValidatorSecret,
    view: u64,
) -> Result<Vec<u8>, BftError> {
    use commonware_codec::Encode;
    use commonware_consensus::simplex::types::{Notarize, Proposal};
    use commonware_consensus::types::{Epoch, Round, View};
    let set: Set<ValidatorKey> =
        Set::try_from(validators.to_vec()).map_err(|_| BftError::ValidatorSet {
            reason: "a key appears twice".into(),
        })?;
    let scheme = Scheme::signer(namespace, set, key.clone()).ok_or(BftError::NotAValidator {
        key: "the forging key".into(),
    })?;
    let round = Round::new(Epoch::new(0), View::new(view));
    let parent = View::new(view.saturating_sub(1));
    let sign = |payload: [u8; 32]| {
        let proposal = Proposal::new(
            round,
            parent,
            commonware_cryptography::sha256::Digest(payload),
        );
        Notarize::<Scheme, Digest>::sign(&scheme, proposal).ok_or_else(|| invalid("cannot sign"))
    };
    let proof = ConflictingNotarize::new(sign([1; 32])?, sign([2; 32])?);
    Ok(proof.encode().to_vec())
}
