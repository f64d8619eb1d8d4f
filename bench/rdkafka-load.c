/*
 * Load generator for `npm run bench`: drives a Kafka-protocol broker through librdkafka, the C
 * client behind kcat and confluent-kafka, so the broker is measured with a client that is not the
 * bottleneck. Prints one JSON line per run.
 *
 *   rdkafka-load produce BOOTSTRAP TOPIC RECORDS RECORD_SIZE [acks]
 *   rdkafka-load consume BOOTSTRAP TOPIC PARTITIONS RECORDS
 *   rdkafka-load latency BOOTSTRAP TOPIC RATE SECONDS RECORD_SIZE
 */
#include <librdkafka/rdkafka.h>
#include <inttypes.h>
#include <signal.h>
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
  fprintf(stderr, "rdkafka-load: %s: %s\n", what, detail);
  exit(1);
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v) {
  char err[512];
  if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) die(k, err);
}

static long delivered = 0, failed = 0;
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk; (void)opaque;
  if (m->err) failed++; else delivered++;
}

static int produce(const char *bootstrap, const char *topic, long records, int size, const char *acks) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  char err[512];
  set(conf, "bootstrap.servers", bootstrap);
  set(conf, "acks", acks);
  set(conf, "linger.ms", "5");
  set(conf, "batch.num.messages", "100000");
  set(conf, "batch.size", "1000000");
  set(conf, "queue.buffering.max.messages", "2000000");
  set(conf, "queue.buffering.max.kbytes", "2000000");
  set(conf, "compression.codec", "none");
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) die("producer", err);
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
  printf("{\"mode\":\"produce\",\"records\":%ld,\"failed\":%ld,\"seconds\":%.3f,\"recordsPerSec\":%.0f,\"mbPerSec\":%.1f}\n",
         delivered, failed, secs, delivered / secs, delivered * (double)size / secs / 1e6);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  free(payload);
  return failed ? 1 : 0;
}

static int consume(const char *bootstrap, const char *topic, int partitions, long records) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  char err[512];
  set(conf, "bootstrap.servers", bootstrap);
  set(conf, "fetch.message.max.bytes", getenv("FETCH_BYTES") ? getenv("FETCH_BYTES") : "4194304");
  set(conf, "fetch.max.bytes", "52428800");
  set(conf, "queued.min.messages", "1000000");
  set(conf, "queued.max.messages.kbytes", "1000000");
  set(conf, "enable.partition.eof", "false");
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) die("consumer", err);
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
  int64_t start = now_us();
  for (int p = 0; p < partitions; p++) {
    if (rd_kafka_consume_start_queue(rkt, p, RD_KAFKA_OFFSET_BEGINNING, q) == -1) die("consume_start", rd_kafka_err2str(rd_kafka_last_error()));
  }
  long got = 0;
  double bytes = 0;
  rd_kafka_message_t *batch[10000];
  int64_t deadline = now_us() + 120 * 1000000LL;
  while (got < records && now_us() < deadline) {
    ssize_t n = rd_kafka_consume_batch_queue(q, 1000, batch, 10000);
    for (ssize_t i = 0; i < n; i++) {
      if (!batch[i]->err) { got++; bytes += batch[i]->len; }
      rd_kafka_message_destroy(batch[i]);
    }
  }
  double secs = (now_us() - start) / 1e6;
  printf("{\"mode\":\"consume\",\"records\":%ld,\"seconds\":%.3f,\"recordsPerSec\":%.0f,\"mbPerSec\":%.1f}\n",
         got, secs, got / secs, bytes / secs / 1e6);
  for (int p = 0; p < partitions; p++) rd_kafka_consume_stop(rkt, p);
  rd_kafka_queue_destroy(q);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  return got == records ? 0 : 1;
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* Produces RATE records/s for SECONDS, each carrying its send time, while a consumer on the same
 * topic measures the time from send to receipt (both clocks are this process's). */
static int latency(const char *bootstrap, const char *topic, int rate, int seconds, int size) {
  char err[512];
  rd_kafka_conf_t *pc = rd_kafka_conf_new();
  set(pc, "bootstrap.servers", bootstrap);
  set(pc, "acks", "1");
  set(pc, "linger.ms", "0");
  rd_kafka_t *prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
  if (!prod) die("producer", err);
  rd_kafka_conf_t *cc = rd_kafka_conf_new();
  set(cc, "bootstrap.servers", bootstrap);
  set(cc, "fetch.wait.max.ms", "100");
  set(cc, "fetch.error.backoff.ms", "1");
  set(cc, "enable.partition.eof", "false");
  rd_kafka_t *cons = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
  if (!cons) die("consumer", err);
  rd_kafka_topic_t *pt = rd_kafka_topic_new(prod, topic, NULL);
  rd_kafka_topic_t *ct = rd_kafka_topic_new(cons, topic, NULL);
  rd_kafka_queue_t *q = rd_kafka_queue_new(cons);
  if (rd_kafka_consume_start_queue(ct, 0, RD_KAFKA_OFFSET_END, q) == -1) die("consume_start", rd_kafka_err2str(rd_kafka_last_error()));
  /* Let the consumer reach the log end before the clock starts. */
  int64_t warm = now_us() + 1000000;
  rd_kafka_message_t *batch[1000];
  while (now_us() < warm) {
    ssize_t n = rd_kafka_consume_batch_queue(q, 50, batch, 1000);
    for (ssize_t i = 0; i < n; i++) rd_kafka_message_destroy(batch[i]);
  }
  long total = (long)rate * seconds;
  int64_t *lat = calloc(total, sizeof *lat);
  char *payload = calloc(1, size < 8 ? 8 : size);
  long sent = 0, got = 0;
  int64_t start = now_us();
  int64_t end = start + (int64_t)seconds * 1000000 + 5000000;
  while (got < total && now_us() < end) {
    int64_t due = start + (int64_t)(sent * (1e6 / rate));
    while (sent < total && now_us() >= due) {
      int64_t t = now_us();
      memcpy(payload, &t, 8);
      if (rd_kafka_produce(pt, 0, RD_KAFKA_MSG_F_COPY, payload, size, NULL, 0, NULL) == -1) break;
      sent++;
      due = start + (int64_t)(sent * (1e6 / rate));
    }
    rd_kafka_poll(prod, 0);
    ssize_t n = rd_kafka_consume_batch_queue(q, 0, batch, 1000);
    int64_t t = now_us();
    for (ssize_t i = 0; i < n; i++) {
      if (!batch[i]->err && batch[i]->len >= 8 && got < total) {
        int64_t sent_at;
        memcpy(&sent_at, batch[i]->payload, 8);
        lat[got++] = t - sent_at;
      }
      rd_kafka_message_destroy(batch[i]);
    }
  }
  qsort(lat, got, sizeof *lat, cmp64);
  double secs = (now_us() - start) / 1e6;
  printf("{\"mode\":\"latency\",\"rate\":%d,\"records\":%ld,\"seconds\":%.3f,\"p50Ms\":%.3f,\"p99Ms\":%.3f,\"p999Ms\":%.3f,\"maxMs\":%.3f}\n",
         rate, got, secs, got ? lat[got / 2] / 1e3 : -1, got ? lat[(long)(got * 0.99)] / 1e3 : -1,
         got ? lat[(long)(got * 0.999)] / 1e3 : -1, got ? lat[got - 1] / 1e3 : -1);
  rd_kafka_consume_stop(ct, 0);
  rd_kafka_queue_destroy(q);
  rd_kafka_flush(prod, 5000);
  rd_kafka_topic_destroy(pt);
  rd_kafka_topic_destroy(ct);
  rd_kafka_destroy(cons);
  rd_kafka_destroy(prod);
  return got == total ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc >= 6 && !strcmp(argv[1], "produce"))
    return produce(argv[2], argv[3], atol(argv[4]), atoi(argv[5]), argc > 6 ? argv[6] : "1");
  if (argc >= 6 && !strcmp(argv[1], "consume")) return consume(argv[2], argv[3], atoi(argv[4]), atol(argv[5]));
  if (argc >= 7 && !strcmp(argv[1], "latency")) return latency(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
  fprintf(stderr, "usage: rdkafka-load produce|consume|latency ...\n");
  return 2;
}
