"""The seed's payment processor as an exactly-once read-process-write loop (confluent-kafka).

Reads "payments" with read_committed from the group's committed offsets, and for every small
batch writes one "charged:<payment>" result per payment and the batch's offsets in one
transaction. Any error ends the process (exit 1): the test restarts it, and the restart's
init_transactions fences the old instance and aborts its open transaction, so a half-done batch
is redone from the last committed offsets and never shows twice to read_committed readers.

usage: payment-processor.py BOOTSTRAP IN_TOPIC OUT_TOPIC GROUP TRANSACTIONAL_ID PARTITIONS BATCH WORK_MS

WORK_MS stands for the call to the payment provider: the results are already in the log (the
transaction open) while it runs, which is where a kill hurts most.
"""
import os
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING


def main():
    bootstrap, in_topic, out_topic, group, txn_id, partitions, batch, work_ms = sys.argv[1:9]
    partitions, batch, work_ms = int(partitions), int(batch), int(work_ms)
    common = {"bootstrap.servers": bootstrap, "socket.timeout.ms": 5000, "reconnect.backoff.max.ms": 500}
    consumer = Consumer(dict(common, **{
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
    }))
    producer = Producer(dict(common, **{
        "transactional.id": txn_id,
        "transaction.timeout.ms": 10000,
        "message.timeout.ms": 8000,
        "linger.ms": 0,
    }))
    producer.init_transactions(10)
    tps = [TopicPartition(in_topic, p) for p in range(partitions)]
    start = consumer.committed(tps, timeout=10)
    consumer.assign([TopicPartition(in_topic, t.partition, t.offset if t.offset >= 0 else OFFSET_BEGINNING) for t in start])
    print("started at", {t.partition: t.offset for t in start}, flush=True)
    while True:
        msgs = consumer.consume(num_messages=batch, timeout=0.2)
        if not msgs:
            continue
        for m in msgs:
            if m.error():
                raise RuntimeError(str(m.error()))
        producer.begin_transaction()
        next_offsets = {}
        for m in msgs:
            producer.produce(out_topic, key=m.key(), value=b"charged:" + m.value(), partition=m.partition())
            next_offsets[m.partition()] = m.offset() + 1
        producer.flush(10)
        print("produced", len(msgs), flush=True)
        time.sleep(work_ms / 1000)
        producer.send_offsets_to_transaction(
            [TopicPartition(in_topic, p, o) for p, o in next_offsets.items()], consumer.consumer_group_metadata(), 10)
        producer.commit_transaction(10)


if __name__ == "__main__":
    try:
        main()
    except BaseException as e:  # noqa: BLE001 - any failure: the supervisor restarts us
        print("processor exits:", repr(e), flush=True)
    # Skip librdkafka's destructors: they can wait on a dead broker.
    os._exit(1)
