"""word2vec_champion_consumer: an example DAG scheduled on one model's promotions.

``word2vec_embeddings``' ``promote`` task emits an event on the Asset ``word2vec_model.<model>``
(through the AssetAlias ``word2vec_champion``) each time that model's ``champion`` alias moves.
This DAG runs on each event for one model (``[word2vec] consumer_model``, default ``default``):
it loads the new champion through ``ModelStore`` and logs what downstream work would start from
(version, vocabulary, the neighbours of its most frequent word). Copy it to start your own.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Asset, conf, task

MODEL = conf.get("word2vec", "consumer_model", fallback="default").strip() or "default"
CHAMPION_ASSET = Asset(name=f"word2vec_model.{MODEL}")

with DAG(
    dag_id="word2vec_champion_consumer",
    description=f"Runs when model '{MODEL}' gets a new champion",
    schedule=[CHAMPION_ASSET],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["embeddings", "word2vec", "example"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    doc_md=__doc__,
):

    @task(inlets=[CHAMPION_ASSET])
    def use_new_champion(*, triggering_asset_events=None) -> dict:
        """Load the champion the triggering event names and describe it (returned as an XCom)."""
        from include.serving.model_store import ModelStore

        events = [event for asset_events in (triggering_asset_events or {}).values() for event in asset_events]
        extra = events[-1].extra if events else {}
        model = extra.get("model", MODEL)
        version = extra.get("version")
        loaded = ModelStore(model=model).load(version=version) if version else ModelStore(model=model).load()
        first = loaded.embeddings.index_to_word[0]
        described = {
            "model": model,
            "version": loaded.version,
            "previous": extra.get("previous"),
            "vocab_size": len(loaded.embeddings),
            "probe": first,
            "neighbours": loaded.neighbours(first, k=5),
        }
        print(f"new champion of {model!r}: {described}")
        return described

    use_new_champion()
