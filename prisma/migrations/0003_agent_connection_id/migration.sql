-- AlterTable
ALTER TABLE "agents" ADD COLUMN     "connection_id" TEXT;
