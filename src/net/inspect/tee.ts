/** One PipelineObserver that forwards every record to several, in order. */
import type { PipelineObserver } from '../flows/flowTypes.js';

export function teeObservers(...observers: PipelineObserver[]): PipelineObserver {
  const out: PipelineObserver = {};
  const flow = observers.filter((o) => o.onFlow);
  const lookup = observers.filter((o) => o.onLookup);
  const client = observers.filter((o) => o.onClient);
  const http = observers.filter((o) => o.onHttpRequest);
  const payload = observers.filter((o) => o.onPayload);
  if (flow.length > 0) {
    out.onFlow = (r) => {
      for (const o of flow) o.onFlow!(r);
    };
  }
  if (lookup.length > 0) {
    out.onLookup = (r) => {
      for (const o of lookup) o.onLookup!(r);
    };
  }
  if (client.length > 0) {
    out.onClient = (r) => {
      for (const o of client) o.onClient!(r);
    };
  }
  if (http.length > 0) {
    out.onHttpRequest = (r) => {
      for (const o of http) o.onHttpRequest!(r);
    };
  }
  if (payload.length > 0) {
    out.onPayload = (r) => {
      for (const o of payload) o.onPayload!(r);
    };
  }
  return out;
}
