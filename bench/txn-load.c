/*
 * Load generator for bench/txn.ts, on librdkafka (the C client behind kcat and confluent-kafka) so
 * the client is not what is measured. Prints one JSON line per run.
 *
 *   txn-load produce BOOTSTRAP TOPIC RECORDS RECORD_SIZE IDEMPOTENT(0|1)
 *       throughput of acks=all produce, idempotence off or on (everything else equal)
 *   txn-load txn BOOTSTRAP TOPIC TRANSACTIONS RECORDS_PER_TXN RECORD_SIZE
 *       transactions one after another: produce, flush, commit; latency percentiles of the commit
 *       (EndTxn: decision, markers, completion) and of the whole transaction
 */
#include <librdkafka/rdkafka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what, const char *detail) {
  fprintf(stderr, "txn-load: %s: %s\n", what, detail);
  exit(1);
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v) {
  char err[512];
  if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) die(k, err);
}

static void check(rd_kafka_error_t *e, const char *what) {
  if (e) die(what, rd_kafka_error_string(e));
}

static long delivered = 0, failed = 0;
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  (void)opaque;
  if (m->err) failed++;
  else delivered++;
}

static rd_kafka_t *producer(const char *bootstrap, int idempotent, const char *txn_id) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  char err[512];
  set(conf, "bootstrap.servers", bootstrap);
  set(conf, "acks", "all");
  set(conf, "compression.codec", "none");
  set(conf, "enable.idempotence", idempotent ? "true" : "false");
  /* Idempotence caps in-flight requests at 5; give the plain run the same cap for a fair compare. */
  set(conf, "max.in.flight.requests.per.connection", "5");
  if (txn_id) {
    set(conf, "transactional.id", txn_id);
    set(conf, "linger.ms", "0");
  } else {
    set(conf, "linger.ms", "5");
    set(conf, "batch.num.messages", "10000");
    set(conf, "batch.size", "1000000");
    set(conf, "queue.buffering.max.messages", "2000000");
    set(conf, "queue.buffering.max.kbytes", "2000000");
  }
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) die("producer", err);
  return rk;
}

static int produce(const char *bootstrap, const char *topic, long records, int size, int idempotent) {
  rd_kafka_t *rk = producer(bootstrap, idempotent, NULL);
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  char *payload = malloc(size);
  for (int i = 0; i < size; i++) payload[i] = 'a' + (i % 26);
  int64_t start = now_us();
  for (long i = 0; i < records; i++) {
    while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, 0, payload, size, NULL, 0, NULL) == -1) {
      if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) die("produce", rd_kafka_err2str(rd_kafka_last_error()));
      rd_kafka_poll(rk, 1);
    }
    if ((i & 0x3ff) == 0) rd_kafka_poll(rk, 0);
  }
  while (rd_kafka_outq_len(rk) > 0) rd_kafka_poll(rk, 5);
  double secs = (now_us() - start) / 1e6;
  printf("{\"mode\":\"produce\",\"idempotent\":%d,\"records\":%ld,\"failed\":%ld,\"seconds\":%.3f,\"recordsPerSec\":%.0f,\"mbPerSec\":%.1f}\n",
         idempotent, delivered, failed, secs, delivered / secs, delivered * (double)size / secs / 1e6);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  free(payload);
  return failed ? 1 : 0;
}

static int cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static double pct(int64_t *v, int n, double p) {
  int i = (int)(p * (n - 1) + 0.5);
  return v[i] / 1000.0;
}

static int txn(const char *bootstrap, const char *topic, int count, int per_txn, int size) {
  char id[64];
  snprintf(id, sizeof id, "txn-bench-%ld", (long)now_us());
  rd_kafka_t *rk = producer(bootstrap, 1, id);
  check(rd_kafka_init_transactions(rk, 30000), "init_transactions");
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  char *payload = malloc(size);
  for (int i = 0; i < size; i++) payload[i] = 'a' + (i % 26);
  int64_t *commit = malloc(sizeof(int64_t) * count), *whole = malloc(sizeof(int64_t) * count);
  int64_t start = now_us();
  for (int t = 0; t < count; t++) {
    int64_t t0 = now_us();
    check(rd_kafka_begin_transaction(rk), "begin_transaction");
    for (int i = 0; i < per_txn; i++) {
      if (rd_kafka_produce(rkt, i % 3, 0, payload, size, NULL, 0, NULL) == -1) die("produce", rd_kafka_err2str(rd_kafka_last_error()));
    }
    rd_kafka_flush(rk, 30000);
    int64_t t1 = now_us();
    check(rd_kafka_commit_transaction(rk, 30000), "commit_transaction");
    int64_t t2 = now_us();
    commit[t] = t2 - t1;
    whole[t] = t2 - t0;
  }
  double secs = (now_us() - start) / 1e6;
  qsort(commit, count, sizeof(int64_t), cmp);
  qsort(whole, count, sizeof(int64_t), cmp);
  printf("{\"mode\":\"txn\",\"transactions\":%d,\"recordsPerTxn\":%d,\"failed\":%ld,\"txnPerSec\":%.1f,"
         "\"commitP50Ms\":%.2f,\"commitP99Ms\":%.2f,\"commitMaxMs\":%.2f,\"txnP50Ms\":%.2f,\"txnP99Ms\":%.2f}\n",
         count, per_txn, failed, count / secs, pct(commit, count, 0.5), pct(commit, count, 0.99), commit[count - 1] / 1000.0,
         pct(whole, count, 0.5), pct(whole, count, 0.99));
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  free(payload);
  free(commit);
  free(whole);
  return failed ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc == 7 && strcmp(argv[1], "produce") == 0) return produce(argv[2], argv[3], atol(argv[4]), atoi(argv[5]), atoi(argv[6]));
  if (argc == 7 && strcmp(argv[1], "txn") == 0) return txn(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
  fprintf(stderr, "usage: txn-load produce BOOTSTRAP TOPIC RECORDS RECORD_SIZE IDEMPOTENT | txn BOOTSTRAP TOPIC TRANSACTIONS RECORDS_PER_TXN RECORD_SIZE\n");
  return 2;
}
