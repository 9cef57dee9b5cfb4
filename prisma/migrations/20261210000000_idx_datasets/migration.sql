-- Uploaded IDX image datasets (Fashion-MNIST, KMNIST, EMNIST...): stored in "datasets" like CSV uploads.

-- AlterEnum
ALTER TYPE "DatasetKind" ADD VALUE 'idx';
