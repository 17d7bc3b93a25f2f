import { Agent, IBoot } from 'egg';
import { serveMetricsInAgent } from './app/infra/metrics';

export default class AgentBoot implements IBoot {
  constructor(private readonly agent: Agent) {}

  configDidLoad() {
    // GET /metrics sums every app worker's metrics; the agent knows who they are (docs/decisions/0009-metrics-across-workers.md).
    serveMetricsInAgent(this.agent.messenger);
  }
}
