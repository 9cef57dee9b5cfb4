// Checks that a dataset can feed a model: input shape, label kind and output width.
import type { Dataset } from './data.ts';
import { featureSize } from './data.ts';
import { NnError } from './errors.ts';
import type { CompiledModel } from './model.ts';

export function checkDatasetFits(model: CompiledModel, ds: Dataset): void {
  const problems: { field: string; message: string }[] = [];
  const dsShape = ds.featureShape;
  if (featureSize(dsShape) !== model.inputSize) {
    problems.push({
      field: 'inputShape',
      message: `the model takes [${model.spec.inputShape.join(', ')}] (${model.inputSize} features) but dataset "${ds.name}" has [${dsShape.join(', ')}] (${featureSize(dsShape)})`,
    });
  } else if (dsShape.join(',') !== model.spec.inputShape.join(',')) {
    problems.push({
      field: 'inputShape',
      message: `the model takes [${model.spec.inputShape.join(', ')}] but dataset "${ds.name}" has [${dsShape.join(', ')}]`,
    });
  }
  if (model.spec.loss === 'softmax_cross_entropy') {
    if (ds.task !== 'classification') {
      problems.push({ field: 'loss', message: `softmax_cross_entropy needs a classification dataset; "${ds.name}" is ${ds.task}` });
    } else if (ds.numClasses !== model.outputSize) {
      problems.push({
        field: 'layers',
        message: `the output layer has ${model.outputSize} units but dataset "${ds.name}" has ${ds.numClasses} classes`,
      });
    }
  } else if (ds.task === 'regression' && (ds.targetDim ?? 1) !== model.outputSize) {
    problems.push({ field: 'layers', message: `the output layer has ${model.outputSize} units but dataset "${ds.name}" has ${ds.targetDim ?? 1} targets` });
  } else if (ds.task === 'classification') {
    problems.push({ field: 'loss', message: `mse needs a regression dataset; "${ds.name}" is a classification dataset (use softmax_cross_entropy)` });
  }
  for (const [name, split] of Object.entries({ train: ds.train, validation: ds.validation, test: ds.test })) {
    if (split.features.length !== split.count * model.inputSize) {
      problems.push({ field: `dataset.${name}`, message: `${split.features.length} feature values for ${split.count} examples of ${model.inputSize}` });
    }
  }
  if (ds.train.count < 1) problems.push({ field: 'dataset.train', message: 'the training split is empty' });
  if (problems.length > 0) {
    throw new NnError('SHAPE_MISMATCH', problems.map((p) => `${p.field}: ${p.message}`).join('; '), { problems });
  }
}
