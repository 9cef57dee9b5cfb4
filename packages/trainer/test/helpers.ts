// Shared fixtures: a small uint8 image dataset and an MLP with dropout.
export { quadrants } from '@hypersweep/nn/testing';

export const mlp = (side: number) => ({
  inputShape: [side, side],
  layers: [
    { type: 'flatten' },
    { type: 'dense', units: 48, activation: 'relu' },
    { type: 'dropout', rate: 0.25 },
    { type: 'dense', units: 40, activation: 'gelu' },
    { type: 'dropout', rate: 0.1 },
    { type: 'dense', units: 4 },
  ],
  loss: 'softmax_cross_entropy',
});

export function bytes(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}
