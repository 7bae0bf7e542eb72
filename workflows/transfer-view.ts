import type { TransferView } from './contract';

/** A transfer as its saga starts: nothing run yet. */
export function newTransferView(): TransferView {
  return { status: 'PENDING', steps: {}, failure: null, parked: null, decisions: [] };
}

/** A copy for an update's answer: the transfer as it was when the handler returned, whatever the saga does next. */
export function snapshotOf(view: TransferView): TransferView {
  return {
    ...view,
    steps: { ...view.steps },
    failure: view.failure ? { ...view.failure } : null,
    parked: view.parked ? { ...view.parked } : null,
    decisions: view.decisions.map((d) => ({ ...d })),
  };
}
