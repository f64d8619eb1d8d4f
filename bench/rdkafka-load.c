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
#include <pthread.h>
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

struct consume_count { long got; double bytes; };
static void on_message(rd_kafka_message_t *m, void *opaque) {
  struct consume_count *c = opaque;
  if (!m->err) { c->got++; c->bytes += m->len; }
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
  /* The callback form hands each message over without a copy into an array and frees it itself. */
  struct consume_count c = { 0, 0 };
  int64_t deadline = now_us() + 120 * 1000000LL;
  while (c.got < records && now_us() < deadline) rd_kafka_consume_callback_queue(q, 1000, on_message, &c);
  long got = c.got;
  double bytes = c.bytes;
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

/* Produces RATE records/s for SECONDS, each carrying its send time, while a consumer thread on the
 * same topic measures the time from send to receipt (one process, so one clock). Neither side
 * spins: the producer sleeps until each record is due and the consumer blocks on its queue, so the
 * load generator leaves the CPU to the broker. */
struct lat_state {
  rd_kafka_queue_t *q;
  int64_t *lat;
  long total;
  volatile long got;
  volatile int stop;
};

static void *lat_consumer(void *arg) {
  struct lat_state *st = arg;
  while (!st->stop && st->got < st->total) {
    /* One message at a time: consume_batch would wait for a full batch or the whole timeout. */
    rd_kafka_message_t *m = rd_kafka_consume_queue(st->q, 100);
    if (!m) continue;
    int64_t t = now_us();
    if (!m->err && m->len >= 8) {
      int64_t sent_at;
      memcpy(&sent_at, m->payload, 8);
      st->lat[st->got++] = t - sent_at;
    }
    rd_kafka_message_destroy(m);
  }
  return NULL;
}

static void sleep_until(int64_t due) {
  int64_t d = due - now_us();
  if (d <= 0) return;
  struct timespec ts = { d / 1000000, (d % 1000000) * 1000 };
  nanosleep(&ts, NULL);
}

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
  struct lat_state st = { rd_kafka_queue_new(cons), NULL, (long)rate * seconds, 0, 0 };
  if (rd_kafka_consume_start_queue(ct, 0, RD_KAFKA_OFFSET_END, st.q) == -1) die("consume_start", rd_kafka_err2str(rd_kafka_last_error()));
  /* Let the consumer reach the log end before the clock starts. */
  rd_kafka_message_t *batch[1000];
  int64_t warm = now_us() + 1000000;
  while (now_us() < warm) {
    ssize_t n = rd_kafka_consume_batch_queue(st.q, 50, batch, 1000);
    for (ssize_t i = 0; i < n; i++) rd_kafka_message_destroy(batch[i]);
  }
  st.lat = calloc(st.total, sizeof *st.lat);
  pthread_t th;
  pthread_create(&th, NULL, lat_consumer, &st);
  char *payload = calloc(1, size < 8 ? 8 : size);
  int64_t start = now_us();
  for (long sent = 0; sent < st.total; sent++) {
    sleep_until(start + (int64_t)(sent * (1e6 / rate)));
    int64_t t = now_us();
    memcpy(payload, &t, 8);
    while (rd_kafka_produce(pt, 0, RD_KAFKA_MSG_F_COPY, payload, size, NULL, 0, NULL) == -1) rd_kafka_poll(prod, 1);
    rd_kafka_poll(prod, 0);
  }
  int64_t end = now_us() + 5000000;
  while (st.got < st.total && now_us() < end) rd_kafka_poll(prod, 10);
  st.stop = 1;
  pthread_join(th, NULL);
  long got = st.got;
  int64_t *lat = st.lat;
  qsort(lat, got, sizeof *lat, cmp64);
  double secs = (now_us() - start) / 1e6;
  printf("{\"mode\":\"latency\",\"rate\":%d,\"records\":%ld,\"seconds\":%.3f,\"p50Ms\":%.3f,\"p99Ms\":%.3f,\"p999Ms\":%.3f,\"maxMs\":%.3f}\n",
         rate, got, secs, got ? lat[got / 2] / 1e3 : -1, got ? lat[(long)(got * 0.99)] / 1e3 : -1,
         got ? lat[(long)(got * 0.999)] / 1e3 : -1, got ? lat[got - 1] / 1e3 : -1);
  rd_kafka_consume_stop(ct, 0);
  rd_kafka_queue_destroy(st.q);
  rd_kafka_flush(prod, 5000);
  rd_kafka_topic_destroy(pt);
  rd_kafka_topic_destroy(ct);
  rd_kafka_destroy(cons);
  rd_kafka_destroy(prod);
  return got == st.total ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc >= 6 && !strcmp(argv[1], "produce"))
    return produce(argv[2], argv[3], atol(argv[4]), atoi(argv[5]), argc > 6 ? argv[6] : "1");
  if (argc >= 6 && !strcmp(argv[1], "consume")) return consume(argv[2], argv[3], atoi(argv[4]), atol(argv[5]));
  if (argc >= 7 && !strcmp(argv[1], "latency")) return latency(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
  fprintf(stderr, "usage: rdkafka-load produce|consume|latency ...\n");
  return 2;
}
