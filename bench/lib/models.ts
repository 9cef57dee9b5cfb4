// The model every MNIST benchmark trains: MLP 784-512-512-10, relu, dropout 0.2.
export const MNIST_MLP = {
  inputShape: [28, 28],
  layers: [
    { type: 'flatten' },
    { type: 'dense', units: 512, activation: 'relu' },
    { type: 'dropout', rate: 0.2 },
    { type: 'dense', units: 512, activation: 'relu' },
    { type: 'dropout', rate: 0.2 },
    { type: 'dense', units: 10 },
  ],
  loss: 'softmax_cross_entropy',
};
