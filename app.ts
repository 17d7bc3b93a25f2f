import { Application, IBoot } from 'egg';
import { InFlightRequests } from './app/infra/inFlight';
import { checkMerchantCertificateAtStart } from './app/infra/merchantCert';
import { closeAmqpSinkOf } from './app/infra/amqpSink';
import { countOrdersCreated, listenForMetrics, measureScheduledJobs } from './app/infra/metricsWiring';
import { RelayLoop } from './app/infra/relayLoop';
import { outboxSinksConfigured } from './app/service/outbox';
import * as http from 'node:http';

export default class AppBoot implements IBoot {
  private inFlight?: InFlightRequests;
  private relay?: RelayLoop;
  private metricsServer?: http.Server;

  constructor(private readonly app: Application) {
    // Emitted by egg-cluster's worker (not under egg-mock) with the server it listens on.
    app.once('server', server => { this.inFlight = new InFlightRequests(server); });
  }

  configWillLoad() {
    // Outermost, so body-parser failures (malformed JSON, too large) get the JSON error shape too.
    this.app.config.coreMiddleware.unshift('errorHandler');
  }

  /**
   * A merchant certificate that cannot work (legacy p12, wrong password, missing file) stops the
   * start with advice, rather than failing the first refund. None configured: refunds are off.
   */
  async didLoad() {
    if (!checkMerchantCertificateAtStart(this.app.config.wechat)) {
      this.app.logger.warn('[wechat] no merchant client certificate configured (WECHAT_CERT_P12_PATH or WECHAT_CERT_PEM_PATH/WECHAT_KEY_PEM_PATH): refunds are refused');
    }
    // --- metrics (issue 18): this worker answers the others' scrapes; jobs and created orders counted in one place each.
    void this.app.clusterMetrics;
    measureScheduledJobs((this.app as any).scheduleWorker, this.app.metrics);
    countOrdersCreated(this.app.model.Order, this.app.metrics);
    // --- end metrics
  }

  /**
   * METRICS_PORT set: GET /metrics is served there (and only there).
   * The outbox relay runs in every worker of every instance (docs/decisions/0007-event-outbox.md):
   * claiming rows with SKIP LOCKED keeps each event to one relay at a time, and a commit in this
   * worker wakes its relay at once.
   */
  async didReady() {
    const { port } = this.app.config.metrics;
    if (port) this.metricsServer = await listenForMetrics(port, this.app.callback());
    if (!this.app.config.outbox.relay.enabled) return;
    this.relay = new RelayLoop(
      // With no sink configured a commit's wake-up ends here, without building a request context.
      () => (outboxSinksConfigured(this.app.config.outbox) ? this.app.createAnonymousContext().service.outbox.relayBatch() : Promise.resolve(0)),
      () => this.app.config.outbox.relay.pollMs,
      err => this.app.logger.warn('[outbox] relay round failed: %s', err.message),
    );
    this.relay.start();
  }

  /**
   * On SIGTERM (egg-scripts stop) the worker runs this and then exits: stop accepting requests and
   * let those in flight finish first, so a notification being committed gets its answer. This
   * hook runs before the plugins' (last registered, first run), while MySQL is still usable.
   */
  async beforeClose() {
    await this.drainRequests();
    // The outbox relay finishes the deliveries under way (an unfinished one is retried after its lease).
    await this.relay?.stop();
    await closeAmqpSinkOf(this.app);
    if (this.metricsServer) {
      this.metricsServer.closeAllConnections();
      await new Promise(resolve => this.metricsServer!.close(resolve));
    }
  }

  private async drainRequests() {
    if (!this.inFlight) return;
    const pending = this.inFlight.size;
    const drained = await this.inFlight.drain(this.app.config.shutdown.drainTimeoutMs);
    if (drained) this.app.logger.info('[shutdown] stopped accepting requests; %d in flight finished', pending);
    else this.app.logger.warn('[shutdown] %d request(s) still in flight after %d ms, exiting anyway', this.inFlight.size, this.app.config.shutdown.drainTimeoutMs);
  }
}
